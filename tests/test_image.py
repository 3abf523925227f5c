import json

import numpy as np
import pytest
import torch

from actionhas.core.errors import ActionhasError
from actionhas.image import evaluate as image_evaluate
from actionhas.image import train as image_train
from actionhas.image.boxes import LocalizationEvaluator, box_iou, cam_to_box
from actionhas.image.data import (
    image_folder,
    read_boxes,
    read_loc_solution,
    read_voc_boxes,
)
from actionhas.image.evaluation import evaluate_npz, evaluate_run, image_cams
from actionhas.image.networks import build_network, load_weights, resnet50_cam
from actionhas.image.synthetic import ImageSpec, make_image_dataset
from actionhas.image.training import ImageTrainConfig, measure_mean_std, train_images


def test_inclusive_box_iou_golden():
    assert box_iou([0, 0, 9, 9], [0, 0, 9, 9])[0, 0] == 1.0
    assert box_iou([0, 0, 9, 9], [5, 0, 14, 9])[0, 0] == pytest.approx(50 / 150)
    assert box_iou([0, 0, 0, 0], [1, 1, 1, 1])[0, 0] == 0.0


def test_cam_to_box_keeps_the_largest_component():
    cam = np.zeros((20, 30))
    cam[2:4, 2:4] = 1.0          # small, strongest
    cam[10:18, 5:25] = 0.5       # large, weaker
    assert cam_to_box(cam, 0.2).tolist() == [5, 10, 24, 17]
    assert cam_to_box(cam, 0.6).tolist() == [2, 2, 3, 3]


def test_diagonal_pixels_are_one_component():
    cam = np.zeros((5, 5))
    cam[[0, 1, 2], [0, 1, 2]] = 1
    assert cam_to_box(cam, 0.5).tolist() == [0, 0, 2, 2]


def test_evaluator_gt_known_top1_and_maxboxacc():
    ev = LocalizationEvaluator(threshold=0.5)
    cam = np.zeros((20, 20))
    cam[5:15, 5:15] = 1
    ev.accumulate(cam, np.array([[5, 5, 14, 14]]), correct_class=False)    # right box, wrong class
    ev.accumulate(cam, np.array([[0, 0, 2, 2]]), correct_class=True)        # wrong box, right class
    m = ev.compute()
    assert (m["gt_known_loc"], m["top1_cls"], m["top1_loc"]) == (0.5, 0.5, 0.0)
    assert m["maxboxacc"]["0.5"] == 0.5 and m["maxboxaccv2"] == pytest.approx(0.5)


@pytest.mark.parametrize("arch, size", [("alexnet_gap", 13), ("alexnet_gap_pool5", 6), ("googlenet_gap", 14),
                                        ("resnet50_cam", 14)])
def test_paper_networks_give_cams_at_their_resolution(arch, size):
    net = build_network(arch, 7).eval()
    with torch.no_grad():
        cams, logits = net.cam(torch.rand(1, 3, 224, 224))
    assert cams.shape == (1, 7, size, size) and logits.shape == (1, 7)


def test_weights_load_with_clear_errors(tmp_path):
    net = build_network("small_gap", 5)
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, tmp_path / "w.pth")
    other = build_network("small_gap", 5)
    assert load_weights(other, tmp_path / "w.pth") == []
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    assert load_weights(build_network("small_gap", 9), tmp_path / "w.pth", backbone_only=True) == \
        ["classifier.bias", "classifier.weight"]
    with pytest.raises(ActionhasError, match="'classifier.weight' has shape"):
        load_weights(build_network("small_gap", 9), tmp_path / "w.pth")
    sd = net.state_dict()
    del sd["features.0.0.weight"]
    torch.save(sd, tmp_path / "missing.pth")
    with pytest.raises(ActionhasError, match="missing key 'features.0.0.weight'"):
        load_weights(build_network("small_gap", 5), tmp_path / "missing.pth")


def test_torchvision_resnet_keys_map_onto_the_cam_variant(tmp_path):
    net = resnet50_cam(10)
    tv = {("fc." + k[11:] if k.startswith("classifier.") else k[9:]): v for k, v in net.state_dict().items()}
    torch.save(tv, tmp_path / "resnet50.pth")
    assert load_weights(resnet50_cam(10), tmp_path / "resnet50.pth") == []


def test_box_files_in_both_ilsvrc_layouts(tmp_path):
    (tmp_path / "sol.csv").write_text("ImageId,PredictionString\nimg1,n01 1 2 30 40 n01 5 5 9 9\n")
    assert read_loc_solution(tmp_path / "sol.csv")["img1"] == [("n01", [1, 2, 30, 40]), ("n01", [5, 5, 9, 9])]
    xml = tmp_path / "xml"
    xml.mkdir()
    (xml / "img1.xml").write_text("<annotation><object><name>n01</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
                                  "<xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")
    assert read_boxes(xml)["img1"] == [("n01", [1.0, 2.0, 30.0, 40.0])]
    (tmp_path / "bad.csv").write_text("ImageId,PredictionString\nimg2,n01 1 2 3\n")
    with pytest.raises(ActionhasError, match="bad.csv:2: img2"):
        read_loc_solution(tmp_path / "bad.csv")
    (xml / "broken.xml").write_text("<annotation><object>")
    with pytest.raises(ActionhasError, match="broken.xml"):
        read_voc_boxes(xml)


@pytest.fixture(scope="module")
def image_data(tmp_path_factory):
    return make_image_dataset(tmp_path_factory.mktemp("images"), ImageSpec(seed=0))


def _cfg(paths, out, sizes, mean_std, epochs=15):
    return ImageTrainConfig(data=str(paths["train"]), out=str(out), arch="small_gap", hide_sizes=sizes, epochs=epochs,
                            lr=0.05, lr_step=10, batch_size=32, resize=48, image_size=40,
                            mean=mean_std[0], std=mean_std[1], workers=0)


@pytest.mark.slow
def test_hide_and_seek_raises_gt_known_loc(image_data, tmp_path):
    mean_std = measure_mean_std(image_folder(image_data["train"])[0], 48, progress=False)
    scores = {}
    for sizes in ([0], [16]):
        run = train_images(_cfg(image_data, tmp_path / f"r{sizes[0]}", sizes, mean_std), progress=False)
        scores[sizes[0]] = evaluate_run(run, image_data["val"], image_data["boxes"], progress=False)
    assert scores[16]["gt_known_loc"] > scores[0]["gt_known_loc"] + 0.05, scores
    assert scores[16]["top1_cls"] >= 0.9


def test_image_clis_train_evaluate_and_score_npz(image_data, tmp_path):
    assert image_train.main(["--data", str(image_data["train"]), "--out", str(tmp_path / "run"), "--arch", "small_gap",
                             "--hide-sizes", "0", "8", "16", "--epochs", "1", "--batch-size", "32", "--resize", "48",
                             "--image-size", "40", "--workers", "0", "--mean-std", "auto"]) == 0
    assert image_evaluate.main(["--run", str(tmp_path / "run"), "--data", str(image_data["val"]), "--boxes",
                                str(image_data["boxes"]), "--synsets", str(image_data["synsets"]), "--ten-crop",
                                "--out", str(tmp_path / "m.json"), "--figure", str(tmp_path / "grid.png")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["images"] == 100 and metrics["ten_crop"] and (tmp_path / "grid.png").stat().st_size > 1000
    # perfect CAMs handed in as arrays score 100% GT-known
    boxes = read_boxes(image_data["boxes"])
    ids = sorted(boxes)[:10]
    cams = np.zeros((10, 48, 48), np.float32)
    for i, image_id in enumerate(ids):
        x0, y0, x1, y1 = (int(v) for v in boxes[image_id][0][1])
        cams[i, y0:y1 + 1, x0:x1 + 1] = 1
    np.savez(tmp_path / "cams.npz", image_ids=np.array(ids), cams=cams)
    out = evaluate_npz(tmp_path / "cams.npz", image_data["boxes"])
    assert out["gt_known_loc"] == 1.0 and out["top1_loc"] is None


def test_ten_crop_cams_cover_the_whole_image():
    net = build_network("small_gap", 3).eval()
    probs, cams = image_cams(net, torch.rand(3, 30, 50), 32, [0.5] * 3, [0.25] * 3, ten_crop=True, resize_to=40)
    assert probs.shape == (3,) and probs.sum().item() == pytest.approx(1.0) and cams.shape == (3, 30, 50)


def test_unreadable_image_is_named(tmp_path):
    d = tmp_path / "train" / "n0"
    d.mkdir(parents=True)
    (d / "broken.png").write_bytes(b"not an image")
    cfg = ImageTrainConfig(data=str(tmp_path / "train"), out=str(tmp_path / "run"), arch="small_gap", epochs=1,
                           batch_size=2, resize=32, image_size=28, workers=0)
    with pytest.raises(ActionhasError, match="broken.png: unreadable image"):
        train_images(cfg, progress=False)


def test_training_can_start_from_local_weights(image_data, tmp_path):
    donor = build_network("small_gap", 10)  # another class count: only the backbone carries over
    torch.save(donor.state_dict(), tmp_path / "pretrained.pth")
    cfg = _cfg(image_data, tmp_path / "run", [0], ([0.5] * 3, [0.25] * 3), epochs=1)
    cfg.lr, cfg.init_weights = 0.0, str(tmp_path / "pretrained.pth")
    run = train_images(cfg, progress=False)
    trained = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    assert torch.equal(trained["features.0.0.weight"], donor.state_dict()["features.0.0.weight"])
    assert trained["classifier.weight"].shape == (4, 128)
