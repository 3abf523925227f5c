"""Every default in one place: the paper's video settings (section 4) and the choices it leaves open.

Each run writes all of them, defaults included, into its config.json.
"""

FEATURES_PER_SECOND = 10.0  # C3D fc7 features per second of video, each over 16 frames
MODEL = "paper"             # the paper's classifier; "basnet" for the background-suppression head, "cola" for CoLA
MODELS = ("paper", "basnet", "cola")
SUBSET = "validation"       # training videos: THUMOS14's validation split, as the paper
LENGTH = 2000               # features sampled uniformly per video for training
SAMPLINGS = ("uniform", "perturbed")  # training sampling: bin centres (paper), or a random index per bin (BaS-Net, CoLA)
SEGMENTS = 20               # equal segments the sampled sequence is split into (100 features each)
HIDE_PROB = 0.5             # probability of hiding each segment; 0 is the paper's Video-full
CHANNELS = 500              # kernels in each of the two 1x1 conv layers
POOL = "max"                # global max pooling, as the paper; "avg" for the GAP variant
POOLS = ("max", "avg")
THRESHOLD = 0.5             # CAM threshold as a fraction of its max
PROPOSALS = "paper"         # one threshold of the CAM; "multi" for the multi-threshold post-processing
TOP_K = 1                   # without labels, the most probable classes localized per video
DETECT_MIN_PROB = 0.2       # detect: localize every class the video-level classifier gives at least this probability

# Not given by the paper; chosen for stable training on ~200-1000 videos and exposed as flags.
OPTIMIZER = "adam"          # Adam, lr below, decoupled from the data scale of C3D features
OPTIMIZERS = ("adam", "sgd")  # sgd: momentum 0.9
LR = 1e-3                   # learning rate
WEIGHT_DECAY = 5e-4         # L2 on all weights: the 2-layer net otherwise memorises backgrounds
DROPOUT = 0.5               # dropout on the hidden maps and the pooled vector
EPOCHS = 40                 # passes over the training videos
BATCH_SIZE = 16             # videos per step
LR_STEP = 0                 # if > 0, multiply lr by LR_GAMMA every LR_STEP epochs
LR_GAMMA = 0.1
SEED = 0
WORKERS = 2                 # DataLoader processes reading the store
DEVICE = "cpu"              # cpu, cuda, cuda:1, ...
EVAL_SUBSET = "test"        # localize, evaluate: the videos reported on, THUMOS14's test split

# evaluate, report, demo
PROTOCOL = "anet"           # evaluate: ActivityNet's matching and interpolated AP (thumos14: the official kit)
IOU_SET = "thumos"          # evaluate: tIoU 0.1:0.1:0.7
REPORT_TIMELINES = 4        # report: activation timelines drawn
REPORT_TITLE = "actionhas report"
DEMO_OUT = "actionhas_demo"

# BaS-Net head (Lee, Uh, Byun, AAAI 2020), `--model basnet`: values of its official release
# (github.com/Pilhyeon/BaSNet-pytorch at c8c6bbd8: model.py, options.py, config.py, main.py).
BASNET_CHANNELS = 2048              # channels of the two 3-wide temporal convs of the CAS network (model.py)
BASNET_ATTENTION_CHANNELS = 512     # channels of the filtering module's first 1x1 conv (model.py)
BASNET_DROPOUT = 0.7                # dropout before the CAS network's classifier conv (model.py)
BASNET_K_RATIO = 8                  # top-k pooling over time with k = length // 8 (model.py: 750 // 8 = 93)
BASNET_NORM_WEIGHT = 1e-4           # weight of the attention's L1 norm over time (options.py --alpha)
BASNET_LR = 1e-4                    # Adam learning rate, betas (0.9, 0.999) (options.py --lr, main.py)
BASNET_WEIGHT_DECAY = 5e-4          # Adam weight decay (main.py)
BASNET_BATCH_SIZE = 16              # videos per step (options.py --batch_size)
BASNET_STEPS = 1500                 # optimiser steps (options.py: 1500 lrs); 116 epochs of THUMOS14's 200 videos
BASNET_LENGTH = 750                 # features sampled per video, in training and at test (config.py num_segments)
BASNET_CLASS_THRESHOLD = 0.25       # classes localized: suppression-branch video score >= this (options.py class_th)
BASNET_ACT_THRESHOLDS = tuple(0.025 * i for i in range(10))  # the floats of np.arange(0, 0.25, 0.025) (config.py)
BASNET_SCALE = 24                   # linear upsampling factor of the CAS before thresholding (config.py scale)
BASNET_OUTER_RATIO = 0.25           # outer-inner-contrastive margin, fraction of the proposal (utils.py lambda_)
BASNET_CLASS_WEIGHT = 0.2           # weight of the binarised video score in a proposal's score (utils.py gamma)
BASNET_NMS_IOU = 0.7                # class-wise NMS threshold (test.py)

# CoLA head (Zhang et al., CVPR 2021), `--model cola` and `--proposals cola`: values of its official
# release (github.com/zhang-can/CoLA at d21f1b5: core/config.py, core/model.py, core/loss.py, main_cola.py).
COLA_CHANNELS = 2048                # channels of the 3-wide embedding conv (model.py f_embed)
COLA_DROPOUT = 0.7                  # dropout between the embedding and the classifier conv (model.py)
COLA_MINING_DROP = 0.6              # drop probability of the random mask before easy-snippet mining (model.py)
COLA_R_EASY = 5                     # k_easy = T // 5 easy snippets, also the top-k of the video scores (config.py)
COLA_R_HARD = 20                    # k_hard = T // 20 hard snippets (config.py)
COLA_ERODE_INNER = 3                # m: the small erosion / dilation width (config.py)
COLA_ERODE_OUTER = 6                # M: the large erosion / dilation width (config.py)
COLA_SNICO_WEIGHT = 0.01            # weight of the snippet contrast loss (config.py LAMBDA)
COLA_TEMPERATURE = 0.07             # InfoNCE temperature (loss.py)
COLA_LR = 1e-4                      # Adam learning rate (config.py)
COLA_WEIGHT_DECAY = 5e-4            # Adam weight decay (main_cola.py)
COLA_BATCH_SIZE = 16                # videos per step (config.py)
COLA_LENGTH = 750                   # features sampled per training video, and the test-time cap (config.py NUM_SEGMENTS)
COLA_STEPS = 6000                   # optimiser steps (config.py: 6000 lrs)
COLA_CLASS_THRESHOLD = 0.2          # test: classes whose video score reaches this, the top one when none (config.py)
COLA_CAS_THRESHOLDS = (0.0, 0.25, 0.025)         # np.arange of the min-max normalised CAS thresholds (config.py)
COLA_ACTIONNESS_THRESHOLDS = (0.1, 0.925, 0.025)  # np.arange of the min-max normalised actionness thresholds
COLA_UPSAMPLE = 24                  # linear interpolation to 24 points per feature (config.py UP_SCALE)
COLA_NMS_IOU = 0.6                  # class-wise NMS drops proposals with IoU >= this (config.py NMS_THRESH)

# Each head's published settings, as data: a flag left unset takes its --model's value here.
# A head with "steps" and no "epochs" trains ceil(steps / batches per epoch) epochs.
HEAD_PRESETS = {
    "paper": {"channels": CHANNELS, "dropout": DROPOUT, "sampling": "uniform", "length": LENGTH, "lr": LR,
              "weight_decay": WEIGHT_DECAY, "batch_size": BATCH_SIZE, "epochs": EPOCHS},
    "basnet": {"channels": BASNET_CHANNELS, "dropout": BASNET_DROPOUT, "sampling": "perturbed",
               "length": BASNET_LENGTH, "lr": BASNET_LR, "weight_decay": BASNET_WEIGHT_DECAY,
               "batch_size": BASNET_BATCH_SIZE, "steps": BASNET_STEPS, "norm_weight": BASNET_NORM_WEIGHT},
    "cola": {"channels": COLA_CHANNELS, "dropout": COLA_DROPOUT, "sampling": "perturbed", "length": COLA_LENGTH,
             "lr": COLA_LR, "weight_decay": COLA_WEIGHT_DECAY, "batch_size": COLA_BATCH_SIZE, "steps": COLA_STEPS},
}

# actionhas's own multi-threshold proposals, `--proposals multi`, after BaS-Net's and CoLA's (Zhang et al., CVPR
# 2021, github.com/zhang-can/CoLA core/config.py) post-processing; values from them unless noted.
CLASS_THRESHOLD = BASNET_CLASS_THRESHOLD  # classes localized without labels: video score >= this (CoLA 0.2)
PROPOSAL_CAS_THRESHOLDS = tuple(round(0.025 * i, 3) for i in range(10))  # 0..0.225, normalised CAS (BaS-Net act_thresh, CoLA)
PROPOSAL_ATTENTION_THRESHOLDS = tuple(round(0.1 + 0.025 * i, 3) for i in range(33))  # 0.1..0.9, normalised attention (CoLA)
PROPOSAL_UPSAMPLE = 24              # sequences linearly interpolated to 24 points per feature before thresholding (BaS-Net/CoLA scale)
PROPOSAL_OUTER_RATIO = 0.25         # outer region on each side, as a fraction of the proposal length (AutoLoc; BaS-Net lambda_)
PROPOSAL_CLASS_WEIGHT = 0.2         # weight of the video-level class score added to the OIC score (BaS-Net/CoLA gamma)
PROPOSAL_NMS_IOU = 0.7              # class-wise NMS drops proposals overlapping a kept one by tIoU >= this (BaS-Net; CoLA 0.6)
PROPOSAL_METHOD = "nms"             # "nms", or "soft-nms" (Gaussian decay)
SOFT_NMS_SIGMA = 0.5                # Gaussian soft-NMS decay exp(-iou^2 / sigma) (Bodla et al., ICCV 2017; ActionFormer)
SOFT_NMS_MIN_SCORE = 0.001          # soft-NMS drops proposals whose decayed score falls below this (Bodla et al. code)

# Extraction (`python -m actionhas.extract`): C3D fc7 as the paper (FEATURES_PER_SECOND above), and how it runs.
EXTRACT_BATCH_SIZE = 16             # clips per forward pass
EXTRACT_PRECISION = "fp32"          # true fp32 on every device; tf32, bf16 and fp16 only when asked (they change features)
DECODE_TIMEOUT = 60.0               # seconds without a decoded frame before a video is abandoned as a failure
MIN_FRAMES = 16                     # videos with fewer decodable frames (one C3D clip) are failures
STORE_DTYPE = "float16"             # features stored in half precision: THUMOS14's 4096-d fc7 in about 16 GB
IMPORT_NAME = "npy"                 # `extract import`: what the features are, recorded as extractor "imported:<name>"
