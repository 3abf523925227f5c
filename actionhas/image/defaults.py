"""Every default of the image side in one place: the paper's ILSVRC schedule (section 4) and its CAM boxes.

Each image run writes all of them, defaults included, into its config.json.
"""

ARCH = "alexnet_gap"              # AlexNet-GAP (Zhou et al.), the paper's main network
POOL = "avg"                      # global average pooling, as CAM
POOLS = ("avg", "max")
HIDE_SIZES = (0, 16, 32, 44, 56)  # patch sizes drawn per image; 0 = not hidden (the paper's "Mixed")
HIDE_PROB = 0.5                   # probability of hiding each patch
EPOCHS = 55                       # the paper's schedule ...
LR = 0.01                         # ... SGD from lr 0.01,
LR_STEP = 25                      # ... multiplied by LR_GAMMA every 25 epochs
LR_GAMMA = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
BATCH_SIZE = 128
RESIZE = 256                      # images resized to 256x256 ...
IMAGE_SIZE = 224                  # ... then 224x224 crops (random with flips in training)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # ImageNet's per-channel mean and std of RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
MEAN_STD = "imagenet"             # normalisation: ImageNet's mean/std, or "auto" (measured on the training images)
CAM_THRESHOLD = 0.2               # GT-known box: CAM fraction of its max (Zhou et al.; the paper's AlexNet), stored CAMs too
CAM_THRESHOLDS = {"alexnet_gap": 0.2, "alexnet_gap_pool5": 0.2, "googlenet_gap": 0.3, "resnet50_cam": 0.2,
                  "small_gap": 0.2}  # per architecture: 0.2 AlexNet-GAP, 0.3 GoogLeNet-GAP (paper)
SEED = 0
WORKERS = 4                       # DataLoader processes decoding images
DEVICE = "cpu"
