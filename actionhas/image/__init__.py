"""Hide-and-Seek for weakly-supervised object localization (the paper's image side).

Patch hiding comes from the shared core (``actionhas.data.hiding.PatchHiding``); this package adds
CAM networks (``networks``), CAM-to-box and the ILSVRC / wsolevaluation metrics (``boxes``),
image data and ILSVRC box files (``data``), and the ``train`` / ``evaluate`` commands.
"""
