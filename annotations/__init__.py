"""THUMOS14 temporal annotations shipped with actionhas (data only; see SOURCES.md)."""
