"""Tests of the synthetic face generator: determinism, formats, attribute rates and the known bias."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairvision.data._faceset import FaceSet
from fairvision.data.synthetic import (
    ATTRIBUTES,
    DEFAULT_ATTRIBUTE_RATES,
    FLIPPABLE,
    HAIR_COLOURS,
    SyntheticFacesConfig,
    generate_faces,
    write_synthetic,
)
from fairvision.errors import ConfigError

NO_DIFFICULTY = {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0}


# --------------------------------------------------------------------------- reference matcher


def pca_embeddings(images: np.ndarray, dims: int = 64, seed: int = 0) -> np.ndarray:
    """Raw RGB pixels -> top-``dims`` PCA coordinates (randomised SVD, numpy only), L2-normalised."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    x -= x.mean(axis=0)
    rng = np.random.default_rng(seed)
    q = x @ rng.standard_normal((x.shape[1], dims + 16), dtype=np.float32)
    for _ in range(2):  # power iterations: the range of x x^T
        q, _ = np.linalg.qr(q)
        q = x @ (x.T @ q)
    q, _ = np.linalg.qr(q)
    u, s, _ = np.linalg.svd(q.T @ x, full_matrices=False)
    z = (q @ u[:, :dims]) * s[:dims]
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def nn_identification_errors(z: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """Leave-one-out rank-1 identification: error iff the most similar *other* image has another identity."""
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    return identities[sim.argmax(axis=1)] != identities


# --------------------------------------------------------------------------- basic properties


def test_defaults_match_the_documented_design():
    cfg = SyntheticFacesConfig()
    assert (cfg.n_identities, cfg.images_per_identity, cfg.size) == (100, 10, 64)
    assert cfg.group_difficulty == NO_DIFFICULTY
    assert cfg.groups == ["A", "B", "C", "D"]
    assert cfg.attribute_rates == DEFAULT_ATTRIBUTE_RATES
    assert len(ATTRIBUTES) >= 12


@pytest.mark.parametrize("size", [16, 32, 48, 96])
def test_shapes_dtypes_and_metadata(size):
    cfg = SyntheticFacesConfig(n_identities=6, images_per_identity=3, size=size, seed=1)
    faces = generate_faces(cfg)
    assert faces.images.shape == (18, size, size, 3)
    assert faces.images.dtype == np.uint8
    assert faces.images.flags["C_CONTIGUOUS"]
    assert len(faces) == 18
    assert list(faces.frame.columns) == ["identity", "Male", "Young", "group", *ATTRIBUTES]
    expected_ids = [f"id{i:05d}" for i in range(1, 7) for _ in range(3)]
    assert faces.frame["identity"].tolist() == expected_ids
    for col in ["Male", "Young", *ATTRIBUTES]:
        assert set(faces.frame[col].unique()) <= {0, 1}, col
    assert set(faces.frame["group"]) <= set(cfg.groups)
    # demographics are identity-level: FaceSet.identity_table raises if they vary within an identity
    fs = FaceSet(faces.frame.assign(path=[f"/x/{i}.png" for i in range(18)]))
    table = fs.identity_table(["Male", "Young", "group"])
    assert (table["n_images"] == 3).all()
    assert list(faces.identities.columns) == ["identity", "Male", "Young", "group", "difficulty"]
    assert faces.identities["difficulty"].eq(0).all()
    # the images are not blank and differ between images
    assert faces.images.std() > 20
    assert len({img.tobytes() for img in faces.images}) == 18


def test_same_config_and_seed_give_identical_bytes():
    cfg = SyntheticFacesConfig(n_identities=9, images_per_identity=4, size=40, seed=123)
    a, b = generate_faces(cfg), generate_faces(cfg.model_copy())
    assert a.images.tobytes() == b.images.tobytes()
    pd.testing.assert_frame_equal(a.frame, b.frame)
    # a dict with the same fields is the same config
    c = generate_faces(cfg.model_dump())
    assert c.images.tobytes() == a.images.tobytes()
    other = generate_faces(cfg.model_copy(update={"seed": 124}))
    assert other.images.tobytes() != a.images.tobytes()


def test_difficulty_ground_truth_combines_group_male_and_young():
    cfg = SyntheticFacesConfig(
        n_identities=200,
        images_per_identity=1,
        size=16,
        group_difficulty={"A": 0.5, "B": 0.0, "C": 0.9, "D": 0.2},
        male_difficulty={0: 0.0, 1: 0.3},
        young_difficulty={0: 0.1, 1: 0.0},
    )
    ident = generate_faces(cfg).identities
    expected = (
        ident["group"].map(cfg.group_difficulty)
        + np.where(ident["Male"] == 1, 0.3, 0.0)
        + np.where(ident["Young"] == 0, 0.1, 0.0)
    ).clip(0, 1)
    np.testing.assert_allclose(ident["difficulty"], expected)
    assert ident["difficulty"].max() == 1.0  # C + Male + old is clipped


def test_custom_group_names_and_weights():
    cfg = SyntheticFacesConfig(
        n_identities=400,
        images_per_identity=1,
        size=16,
        group_difficulty={"north": 0.0, "south": 0.0},
        group_weights={"north": 3.0, "south": 1.0},
    )
    frame = generate_faces(cfg).frame
    assert set(frame["group"]) == {"north", "south"}
    assert frame["group"].eq("north").mean() == pytest.approx(0.75, abs=0.06)


# --------------------------------------------------------------------------- attributes


@pytest.mark.parametrize(
    "rates",
    [
        {},  # CelebA-like defaults
        {"Blond_Hair": (0.45, 0.05), "Heavy_Makeup": (0.3, 0.0), "Eyeglasses": (0.5, 0.5), "Bangs": (0.1, 0.7)},
    ],
    ids=["defaults", "custom"],
)
def test_attribute_base_rates_follow_the_config(rates):
    cfg = SyntheticFacesConfig(
        n_identities=3000, images_per_identity=2, size=16, seed=7, p_male=0.4, attribute_rates=rates
    )
    frame = generate_faces(cfg).frame
    assert frame["Male"].mean() == pytest.approx(0.4, abs=0.03)
    assert frame["Young"].mean() == pytest.approx(cfg.p_young, abs=0.03)
    f = cfg.flip_prob
    for attr in ATTRIBUTES:
        for male in (0, 1):
            p = cfg.attribute_rates[attr][male]
            if attr in FLIPPABLE and 0 < p < 1:
                p = p * (1 - f) + (1 - p) * f  # rare per-image flips of style attributes
            rows = frame["Male"] == male
            observed = frame.loc[rows, attr].mean()
            n_ids = frame.loc[rows, "identity"].nunique()  # identities are the independent unit
            tol = 4.5 * np.sqrt(p * (1 - p) / n_ids) + 0.005
            assert observed == pytest.approx(p, abs=tol), (attr, male, observed, p)
    # hair colours are mutually exclusive
    assert frame[list(HAIR_COLOURS)].sum(axis=1).max() <= 1


def test_male_correlations_are_celeba_like():
    frame = generate_faces(SyntheticFacesConfig(n_identities=2000, images_per_identity=2, size=16, seed=3)).frame
    by_male = frame.groupby("Male")[list(ATTRIBUTES)].mean()
    assert by_male.loc[0, "Blond_Hair"] > 4 * by_male.loc[1, "Blond_Hair"]
    assert by_male.loc[1, "Heavy_Makeup"] < 0.02 < 0.5 < by_male.loc[0, "Heavy_Makeup"]
    assert by_male.loc[0, "Mustache"] == 0 and by_male.loc[1, "Mustache"] > 0.05
    assert by_male.loc[0, "No_Beard"] == 1 and by_male.loc[1, "No_Beard"] < 0.75


@pytest.mark.parametrize("attr", ATTRIBUTES)
def test_every_attribute_is_visibly_rendered(attr):
    """Same seed with the attribute forced off / on: every image changes in several pixels."""
    images = []
    for rate in (0.0, 1.0):
        rates = {h: (0.0, 0.0) for h in HAIR_COLOURS} if attr in HAIR_COLOURS else {}
        rates[attr] = (rate, rate)
        cfg = SyntheticFacesConfig(
            n_identities=12, images_per_identity=2, size=64, seed=1, flip_prob=0.0, attribute_rates=rates
        )
        faces = generate_faces(cfg)
        assert faces.frame[attr].eq(int(rate)).all()
        images.append(faces.images.astype(np.int16))
    changed = (np.abs(images[0] - images[1]).max(axis=-1) > 10).sum(axis=(1, 2))
    # bangs are hidden on bald heads; everything else shows on every image
    min_fraction = 0.85 if attr == "Bangs" else 1.0
    assert (changed >= 3).mean() >= min_fraction, changed


# --------------------------------------------------------------------------- the known bias
#
# With 200 identities (50 per group) the error rate of one group varies from seed to
# seed by about 0.05 (which identities are drawn), while the effect of a difficulty
# is consistent.  Hence: effects are measured paired (same seed, difficulty on vs
# off: all random draws are the same), the null case is averaged over seeds.

BIAS_SETUP = {"n_identities": 200, "images_per_identity": 8, "size": 32}


def _per_group_errors(**fields) -> pd.Series:
    faces = generate_faces(SyntheticFacesConfig(**(BIAS_SETUP | fields)))
    ids = faces.frame["identity"].to_numpy()
    errors = nn_identification_errors(pca_embeddings(faces.images), ids)
    per_group = pd.Series(errors).groupby(faces.frame["group"].to_numpy()).mean()
    return pd.concat([per_group, pd.Series({"all": errors.mean()})])


@pytest.mark.parametrize("hard", ["A", "C", "D"])
def test_difficulty_raises_the_harder_groups_identification_error(hard):
    base = _per_group_errors(seed=11)
    biased = _per_group_errors(seed=11, group_difficulty=dict(NO_DIFFICULTY, **{hard: 0.7}))
    others = [g for g in NO_DIFFICULTY if g != hard]
    # paired: the harder group's error rises clearly, the other groups' barely move
    assert biased[hard] - base[hard] >= 0.2, (base.to_dict(), biased.to_dict())
    assert (biased[others] - base[others]).abs().max() < 0.05, (base.to_dict(), biased.to_dict())
    # unpaired: the harder group is the hardest
    assert biased[hard] >= biased[others].max() + 0.1, biased.to_dict()


def test_male_difficulty_makes_males_harder():
    cfg = SyntheticFacesConfig(**BIAS_SETUP, seed=5, p_male=0.5, male_difficulty={0: 0.0, 1: 0.7})
    faces = generate_faces(cfg)
    errors = nn_identification_errors(pca_embeddings(faces.images), faces.frame["identity"].to_numpy())
    by_male = pd.Series(errors).groupby(faces.frame["Male"].to_numpy()).mean()
    assert by_male[1] >= by_male[0] + 0.15, by_male.to_dict()


@pytest.mark.parametrize("size", [32, 64])
def test_overall_error_is_moderate(size):
    errors = _per_group_errors(seed=3, size=size)
    assert 0.2 <= errors["all"] <= 0.7, errors.to_dict()


def test_without_difficulty_groups_are_equally_hard():
    seeds = range(6)
    table = pd.DataFrame([_per_group_errors(seed=s) for s in seeds])
    deviation = table[list(NO_DIFFICULTY)].sub(table["all"], axis=0)  # group minus overall, per seed
    mean = deviation.mean()
    se = deviation.stack().std() / np.sqrt(len(seeds))  # pooled seed-to-seed noise of a group mean
    assert (mean.abs() <= 3.5 * se + 0.01).all(), (mean.round(3).to_dict(), round(se, 3))
    assert mean.abs().max() < 0.06, mean.to_dict()
    # for contrast: a difficulty of 0.7 moves a group far outside that band
    assert 0.2 > 5 * se


# --------------------------------------------------------------------------- writer


def _small_config(**kw) -> SyntheticFacesConfig:
    return SyntheticFacesConfig(**({"n_identities": 20, "images_per_identity": 3, "size": 24, "seed": 9} | kw))


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.mode == "RGB"
        return np.asarray(img)


def test_folders_layout(tmp_path):
    cfg = _small_config()
    out = write_synthetic(tmp_path / "syn", cfg, layout="folders")
    assert out == tmp_path / "syn"
    faces = generate_faces(cfg)

    demo = pd.read_csv(out / "demographics.csv", dtype={"identity": str, "group": str})
    assert list(demo.columns) == ["identity", "Male", "Young", "group"]
    pd.testing.assert_frame_equal(demo, faces.identities[["identity", "Male", "Young", "group"]], check_dtype=False)

    attrs = pd.read_csv(out / "attributes.csv", dtype={"identity": str, "group": str})
    assert list(attrs.columns) == ["path", "identity", "Male", "Young", "group", *ATTRIBUTES]
    pd.testing.assert_frame_equal(attrs.drop(columns="path"), faces.frame, check_dtype=False)
    assert attrs["path"][:4].tolist() == [
        "images/id00001/000.png",
        "images/id00001/001.png",
        "images/id00001/002.png",
        "images/id00002/000.png",
    ]
    # one folder per identity, K PNGs each, pixels identical to the in-memory images
    folders = sorted(p.name for p in (out / "images").iterdir())
    assert folders == faces.identities["identity"].tolist()
    assert all(len(list((out / "images" / d).glob("*.png"))) == 3 for d in folders)
    for i, rel in enumerate(attrs["path"]):
        np.testing.assert_array_equal(_read_png(out / rel), faces.images[i])
    assert not (out / "celeba").exists()

    meta = json.loads((out / "synthetic.json").read_text())
    assert meta["layout"] == "folders" and meta["n_images"] == 60
    assert SyntheticFacesConfig(**meta["config"]) == cfg


def test_celeba_layout(tmp_path):
    cfg = _small_config(n_identities=30, images_per_identity=2)
    out = write_synthetic(tmp_path, cfg, layout="celeba", progress=True)
    faces = generate_faces(cfg)
    root = out / "celeba"
    names = [f"{i:06d}.png" for i in range(1, 61)]
    assert sorted(p.name for p in (root / "img_align_celeba").iterdir()) == names
    for i in (0, 17, 59):
        np.testing.assert_array_equal(_read_png(root / "img_align_celeba" / names[i]), faces.images[i])

    lines = (root / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == "60"
    header = lines[1].split(" ")
    assert header == ["Male", "Young", *ATTRIBUTES]
    for i, line in enumerate(lines[2:]):
        tokens = line.split(" ")
        assert tokens[0] == names[i]
        values = np.array([int(t) for t in tokens[1:]])
        assert set(values) <= {-1, 1}
        np.testing.assert_array_equal((values + 1) // 2, faces.frame.loc[i, header].to_numpy(dtype=int))
    assert len(lines) == 62

    ident = [line.split(" ") for line in (root / "identity_CelebA.txt").read_text().splitlines()]
    assert [n for n, _ in ident] == names
    assert [f"id{int(v):05d}" for _, v in ident] == faces.frame["identity"].tolist()

    part = [line.split(" ") for line in (root / "list_eval_partition.txt").read_text().splitlines()]
    assert [n for n, _ in part] == names
    split = pd.DataFrame({"identity": faces.frame["identity"], "part": [int(p) for _, p in part]})
    assert split.groupby("identity")["part"].nunique().eq(1).all()  # identity-disjoint
    per_part = split.drop_duplicates("identity")["part"].value_counts().sort_index()
    assert per_part.to_dict() == {0: 24, 1: 3, 2: 3}  # 80/10/10 of 30 identities

    attrs = pd.read_csv(out / "attributes.csv")
    assert attrs["path"].iloc[0] == "celeba/img_align_celeba/000001.png"
    assert not (out / "images").exists() and not (out / "demographics.csv").exists()


def test_both_layouts_hold_the_same_images(tmp_path):
    out = write_synthetic(tmp_path, _small_config(n_identities=4), layout="both")
    attrs = pd.read_csv(out / "attributes.csv")
    assert list(attrs.columns[:3]) == ["path", "celeba_path", "identity"]
    for rel, crel in zip(attrs["path"], attrs["celeba_path"]):
        assert (out / rel).read_bytes() == (out / crel).read_bytes()


def test_writer_is_deterministic(tmp_path):
    cfg = _small_config(n_identities=5)
    a = write_synthetic(tmp_path / "a", cfg)
    b = write_synthetic(tmp_path / "b", cfg)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_folders_round_trip_through_the_loader(tmp_path):
    try:
        from fairvision.data.folders import load_identity_folders
    except ImportError:
        pytest.skip("fairvision.data.folders.load_identity_folders not available")
    cfg = _small_config()
    out = write_synthetic(tmp_path, cfg, layout="folders")
    faces = load_identity_folders(out / "images", demographics=out / "demographics.csv")
    expected = generate_faces(cfg)
    assert len(faces) == len(expected)
    got = faces.frame.sort_values("path").reset_index(drop=True)
    assert got["identity"].tolist() == expected.frame["identity"].tolist()
    for col in ("Male", "Young", "group"):
        assert got[col].tolist() == expected.frame[col].tolist(), col
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in got["path"])
    np.testing.assert_array_equal(_read_png(got["path"].iloc[4]), expected.images[4])


def test_celeba_round_trip_through_the_loader(tmp_path):
    try:
        from fairvision.data.celeba import load_celeba
    except ImportError:
        pytest.skip("fairvision.data.celeba.load_celeba not available")
    cfg = _small_config(n_identities=30, images_per_identity=2)
    out = write_synthetic(tmp_path, cfg, layout="celeba")
    expected = generate_faces(cfg)
    faces = load_celeba(out / "celeba")
    assert len(faces) == 60
    frame = faces.frame
    assert frame["identity"].tolist() == [str(int(i[2:])) for i in expected.frame["identity"]]
    for col in ["Male", "Young", *ATTRIBUTES]:
        assert frame[col].tolist() == expected.frame[col].tolist(), col
    sizes = {split: len(load_celeba(out / "celeba", split=split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 48, "val": 6, "test": 6}
    np.testing.assert_array_equal(_read_png(frame["path"].iloc[7]), expected.images[7])


# --------------------------------------------------------------------------- validation


def test_unknown_key_is_a_clear_config_error():
    with pytest.raises(ConfigError, match=r"n_identity: unknown key"):
        SyntheticFacesConfig(n_identity=5)
    with pytest.raises(ConfigError, match=r"colour: unknown key"):
        generate_faces({"colour": "red"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_identities": 0}, r"n_identities: must be >= 1"),
        ({"images_per_identity": -2}, r"images_per_identity"),
        ({"size": 8}, r"size: must be >= 16"),
        ({"size": "big"}, r"size: .*valid integer"),
        ({"seed": -1}, r"seed"),
        ({"group_difficulty": {"A": 1.5, "B": 0}}, r"difficulty of 'A' must be in \[0, 1\]"),
        ({"group_difficulty": {}}, r"at least one group"),
        ({"male_difficulty": {2: 0.5}}, r"keys must be 0 or 1"),
        ({"attribute_rates": {"Blond_Hair": (1.2, 0.0)}}, r"rate of 'Blond_Hair' must be in \[0, 1\]"),
        ({"attribute_rates": {"Sunglasses": (0.1, 0.1)}}, r"unknown attribute\(s\) \['Sunglasses'\]"),
        ({"attribute_rates": {"Black_Hair": (0.9, 0.2)}}, r"hair colour rates .* Male=0 sum to 1.390 > 1"),
        ({"group_weights": {"A": 1.0}}, r"group_weights keys"),
        ({"nuisance": 7}, r"nuisance"),
        ({"p_male": 1.5}, r"p_male"),
    ],
)
def test_bad_values_raise_config_errors_naming_the_key(fields, message):
    with pytest.raises(ConfigError, match=message):
        SyntheticFacesConfig(**fields)
    with pytest.raises(ConfigError, match=message):
        SyntheticFacesConfig.from_dict(fields)


def test_config_is_immutable_and_writer_rejects_bad_layout(tmp_path):
    cfg = SyntheticFacesConfig()
    with pytest.raises(Exception):
        cfg.size = 32
    with pytest.raises(ConfigError, match="layout"):
        write_synthetic(tmp_path, _small_config(), layout="zip")
    with pytest.raises(ConfigError, match="mapping"):
        SyntheticFacesConfig.from_dict(["size", 32])


def test_writer_replaces_its_own_output_but_not_foreign_files(tmp_path):
    out = tmp_path / "syn"
    write_synthetic(out, _small_config(n_identities=6), layout="both")
    write_synthetic(out, _small_config(n_identities=3), layout="folders")  # smaller set, other layout
    assert sorted(p.name for p in (out / "images").iterdir()) == ["id00001", "id00002", "id00003"]
    assert not (out / "celeba").exists()
    assert len(pd.read_csv(out / "attributes.csv")) == 9

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        write_synthetic(foreign, _small_config())
    assert (foreign / "notes.txt").read_text() == "keep me"
