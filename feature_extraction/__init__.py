"""Video decoding (decord), clip sampling, the C3D network and the crash-safe extraction pipeline."""
