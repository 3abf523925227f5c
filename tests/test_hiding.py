import pytest
import torch

from actionhas.data.hiding import PatchHiding, TemporalHiding, cell_mask, hide_cells


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shape_and_dtype_are_kept():
    x = torch.rand(4, 2000, 32)
    out = hide_cells(x, (1,), 100, 0.5, torch.zeros(32), gen())
    assert out.shape == x.shape and out.dtype == x.dtype


def test_p_zero_is_identity():
    x = torch.rand(3, 50, 8)
    assert torch.equal(hide_cells(x, (1,), 10, 0.0, 0.0, gen()), x)


def test_hidden_fraction_matches_p():
    mask = cell_mask(2000, [2000], [100], 0.3, gen(1))
    assert abs(mask.float().mean().item() - 0.3) < 0.02


def test_mask_is_constant_inside_a_cell_and_shared_across_channels():
    x = torch.rand(8, 200, 16) + 1.0  # never equal to the fill
    out = hide_cells(x, (1,), 20, 0.5, torch.zeros(16), gen(2))
    hidden = (out == 0)
    assert torch.equal(hidden.all(dim=2), hidden.any(dim=2))  # every channel shares the fate
    cells = hidden[:, :, 0].view(8, 10, 20)
    assert torch.equal(cells.all(dim=2), cells.any(dim=2))  # constant inside each cell
    assert hidden.any() and not hidden.all()


def test_hidden_features_take_the_fill_value():
    x = torch.rand(2, 40, 4)
    fill = torch.tensor([7.0, 8.0, 9.0, 10.0])
    out = hide_cells(x, (1,), 10, 1.0, fill, gen())
    assert torch.equal(out, fill.expand_as(x))


def test_temporal_hiding_uses_twenty_segments_and_layouts_agree():
    fill = torch.full((6,), -1.0)
    hider = TemporalHiding(fill, segments=20, p=0.5).train()
    x = torch.rand(4, 2000, 6)
    a = hider(x, gen(3))
    hider_t = TemporalHiding(fill, segments=20, p=0.5, time_dim=2).train()
    b = hider_t(x.transpose(1, 2).contiguous(), gen(3))
    assert torch.equal(a, b.transpose(1, 2))
    per_segment = (a[..., 0] == -1).view(4, 20, 100)
    assert torch.equal(per_segment.all(2), per_segment.any(2))


def test_eval_mode_does_nothing():
    x = torch.rand(2, 100, 3)
    assert torch.equal(TemporalHiding(torch.zeros(3), p=1.0).eval()(x), x)
    img = torch.rand(2, 3, 32, 32)
    assert torch.equal(PatchHiding(8, p=1.0).eval()(img), img)


def test_same_seed_same_mask_different_seed_differs():
    x = torch.rand(4, 3, 64, 64)
    h = PatchHiding(16, p=0.5).train()
    assert torch.equal(h(x, gen(5)), h(x, gen(5)))
    assert not torch.equal(h(x, gen(5)), h(x, gen(6)))


def test_patch_hiding_partial_edge_cells_and_mean_pixel_fill():
    img = torch.rand(16, 3, 50, 50) + 1
    mean = torch.tensor([0.1, 0.2, 0.3])
    out = PatchHiding(16, p=1.0, fill=mean).train()(img, gen())
    assert torch.allclose(out, mean.view(1, 3, 1, 1).expand_as(img))


def test_mixed_patch_sizes_leave_size_zero_samples_untouched():
    img = torch.rand(64, 3, 32, 32) + 1
    out = PatchHiding([0, 8], p=0.9, fill=0.0).train()(img, gen(7))
    untouched = (out == img).flatten(1).all(1)
    assert 10 < int(untouched.sum()) < 54  # about half the samples drew size 0


def test_conv_feature_maps_hide_cells_across_all_channels():
    maps = torch.rand(2, 64, 55, 55) + 1
    out = hide_cells(maps, (2, 3), 11, 0.5, 0.0, gen(8))
    hidden = out == 0
    assert torch.equal(hidden.all(1), hidden.any(1))


def test_rejects_hiding_the_batch_axis():
    with pytest.raises(ValueError):
        hide_cells(torch.rand(2, 3), (0,), 1, 0.5)
