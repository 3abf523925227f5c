"""Every default in one place: the paper's video settings (section 4) and the choices it leaves open.

Each run writes all of them, defaults included, into its config.json.
"""

FEATURES_PER_SECOND = 10.0  # C3D fc7 features per second of video, each over 16 frames
LENGTH = 2000               # features sampled uniformly per video for training
SEGMENTS = 20               # equal segments the sampled sequence is split into (100 features each)
HIDE_PROB = 0.5             # probability of hiding each segment; 0 is the paper's Video-full
HIDDEN = 500                # kernels in each of the two 1x1 conv layers
POOL = "max"                # global max pooling, as the paper; "avg" for the GAP variant
THRESHOLD = 0.5             # CAM threshold as a fraction of its max

# Not given by the paper; chosen for stable training on ~200-1000 videos and exposed as flags.
OPTIMIZER = "adam"          # Adam, lr below, decoupled from the data scale of C3D features
LR = 1e-3                   # learning rate
WEIGHT_DECAY = 5e-4         # L2 on all weights: the 2-layer net otherwise memorises backgrounds
DROPOUT = 0.5               # dropout on the hidden maps and the pooled vector
EPOCHS = 40                 # passes over the training videos
BATCH_SIZE = 16             # videos per step
LR_STEP = 0                 # if > 0, multiply lr by LR_GAMMA every LR_STEP epochs
LR_GAMMA = 0.1
SEED = 0
WORKERS = 2                 # DataLoader processes reading the store
