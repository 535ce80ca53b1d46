"""drid.eval.mot and mot_metrics: MOTChallenge files and tracking metrics, checked against motmetrics (the
reference implementation) on the same files, HOTA on cases worked by hand and against a plain
loop-per-threshold reading of its definition (Luiten et al. 2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drid import ConfigError
from drid.eval.groundtruth import GroundTruth, load_groundtruth
from drid.eval.mot import Tracks, read_mot, write_mot
from drid.eval.mot_metrics import ALPHAS, evaluate_tracks
from drid.schemas import iou_matrix

mm = pytest.importorskip("motmetrics")
# motmetrics 1.4 shifts MOT boxes with a tuple, which pandas 3 warns about; the result is right
pytestmark = pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated")


def tracks(rows: list[tuple[int, int, float, float, float, float]]) -> Tracks:
    """Tracks from ``(frame, id, x1, y1, x2, y2)`` rows."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return Tracks(frame=a[:, 0], id=a[:, 1], box=a[:, 2:])


def box(x: float, y: float = 0.0, w: float = 10.0, h: float = 10.0) -> tuple[float, float, float, float]:
    return (x, y, x + w, y + h)


# -- the reference: motmetrics on the same MOTChallenge files ---------------------------------------


@pytest.fixture
def motmetrics_on_numpy2(monkeypatch):
    """motmetrics 1.4 calls np.asfarray, which numpy 2 removed: give it back for these tests."""
    if not hasattr(np, "asfarray"):
        monkeypatch.setattr(np, "asfarray", lambda a, dtype=np.float64: np.asarray(a, dtype=dtype), raising=False)
    return mm


def reference(gt_file, result_file) -> dict:
    gt = mm.io.loadtxt(str(gt_file), fmt="mot15-2D", min_confidence=1)
    ts = mm.io.loadtxt(str(result_file), fmt="mot15-2D")
    acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
    names = ["mota", "motp", "idf1", "idp", "idr", "num_switches", "num_fragmentations", "mostly_tracked", "partially_tracked",
             "mostly_lost", "num_false_positives", "num_misses", "num_objects", "num_predictions"]
    return mm.metrics.create().compute(acc, metrics=names, name="seq").iloc[0].to_dict()


def assert_same_as_motmetrics(ours, ref) -> None:
    assert ours.mota == pytest.approx(ref["mota"], abs=1e-12)
    assert ours.motp == pytest.approx(1.0 - ref["motp"], abs=1e-12)  # motmetrics reports 1 - IoU
    assert ours.idf1 == pytest.approx(ref["idf1"], abs=1e-12)
    assert (ours.idp, ours.idr) == (pytest.approx(ref["idp"], abs=1e-12), pytest.approx(ref["idr"], abs=1e-12))
    assert (ours.id_switches, ours.fragmentations) == (ref["num_switches"], ref["num_fragmentations"])
    assert (ours.mostly_tracked, ours.partially_tracked, ours.mostly_lost) == (ref["mostly_tracked"], ref["partially_tracked"], ref["mostly_lost"])
    assert (ours.fp, ours.fn, ours.num_gt, ours.num_pred) == (ref["num_false_positives"], ref["num_misses"], ref["num_objects"], ref["num_predictions"])


def simulated(rng: np.random.Generator, n_frames: int = 40, n_objects: int = 7) -> tuple[Tracks, Tracks]:
    """Objects moving in straight lines (with gaps), and a tracker's view of them: jittered
    boxes, missed ones, false alarms, and identities that jump to another number now and then
    (switches) or are handed to a different object later (reuse)."""
    gt_rows, pred_rows = [], []
    for o in range(n_objects):
        start = int(rng.integers(0, n_frames - 8))
        stop = int(rng.integers(start + 4, n_frames))
        x, y = rng.uniform(0, 300, 2)
        vx, vy = rng.normal(0, 4, 2)
        w, h = rng.uniform(15, 60, 2)
        ident = 100 + o
        for f in range(start, stop):
            if rng.random() < 0.08:
                continue  # not in view
            b = (x + vx * f, y + vy * f, x + vx * f + w, y + vy * f + h)
            gt_rows.append((f, o + 1, *b))
            if rng.random() < 0.15:
                continue  # missed
            if rng.random() < 0.1:
                ident = int(rng.integers(100, 100 + n_objects + 4))  # a switch, maybe to an id in use
            jitter = rng.normal(0, 2.5, 4)
            pred_rows.append((f, ident, *(np.array(b) + jitter)))
    for _ in range(25):  # false alarms
        f = int(rng.integers(0, n_frames))
        x, y = rng.uniform(0, 300, 2)
        pred_rows.append((f, int(rng.integers(300, 305)), x, y, x + 25, y + 25))
    # one box per identity and frame, as a tracker outputs
    unique = {(r[0], r[1]): r for r in pred_rows}
    return tracks(gt_rows), tracks(sorted(unique.values()))


@pytest.mark.parametrize("seed", range(6))
def test_clear_mot_and_identity_scores_equal_motmetrics_on_the_same_files(seed, tmp_path, motmetrics_on_numpy2):
    gt, pred = simulated(np.random.default_rng(seed))
    gt_file = write_mot(tmp_path / "gt.txt", gt, groundtruth=True)
    result_file = write_mot(tmp_path / "result.txt", pred)
    ours = evaluate_tracks(read_mot(gt_file, groundtruth=True), read_mot(result_file))
    ref = reference(gt_file, result_file)
    assert_same_as_motmetrics(ours, ref)
    assert ours.id_switches > 0 and ours.fp > 0 and ours.fn > 0  # the cases are exercised


def test_scores_equal_motmetrics_on_the_bundled_ground_truth(tmp_path, motmetrics_on_numpy2):
    """Real tracks (the hand-made ground truth of bikes.mp4's street shot) against a damaged copy:
    every 3rd box of one car dropped, two cars' ids exchanged half-way, boxes shifted."""
    from drid.eval.groundtruth import bundled_groundtruth

    gt_all, _ = load_groundtruth(bundled_groundtruth("tracks-packaged"))
    clip = gt_all.tracking_clips()[0]
    truth = clip.truth.select(~clip.truth.ignore)
    rng = np.random.default_rng(7)
    keep = ~((truth.id == 1) & (truth.frame % 3 == 0))
    ident = truth.id.copy()
    late = truth.frame >= 165
    ident[late & (truth.id == 3)], ident[late & (truth.id == 4)] = 4, 3
    damaged = Tracks(frame=truth.frame[keep], id=ident[keep] + 10, box=truth.box[keep] + rng.normal(0, 4, (int(keep.sum()), 4)))
    gt_file = write_mot(tmp_path / "gt.txt", truth, groundtruth=True)
    result_file = write_mot(tmp_path / "result.txt", damaged)
    ours = evaluate_tracks(read_mot(gt_file, groundtruth=True), read_mot(result_file))
    assert_same_as_motmetrics(ours, reference(gt_file, result_file))
    assert ours.id_switches >= 1


# -- CLEAR MOT and identity on small cases ----------------------------------------------------------


def test_a_switch_a_miss_a_false_alarm_by_hand():
    gt = tracks([(0, 1, *box(0)), (1, 1, *box(0)), (2, 1, *box(0)), (3, 1, *box(0)), (0, 2, *box(50)), (1, 2, *box(50))])
    pred = tracks([(0, 7, *box(0)), (1, 7, *box(0)), (2, 8, *box(0)), (3, 8, *box(0)),  # object 1: a switch at frame 2
                   (0, 9, *box(50)),  # object 2: found once, missed once
                   (3, 5, *box(200))])  # a false alarm
    m = evaluate_tracks(gt, pred)
    assert (m.matches, m.fn, m.fp, m.id_switches) == (5, 1, 1, 1)
    assert m.mota == pytest.approx(1 - (1 + 1 + 1) / 6)
    assert m.motp == pytest.approx(1.0)
    # identities: 1↔7 share 2 frames (8 gets none), 2↔9 one: IDTP 3 of 6 truth and 6 predictions
    assert (m.idtp, m.idfn, m.idfp) == (3, 3, 3)
    assert m.idf1 == pytest.approx(0.5)
    assert (m.mostly_tracked, m.partially_tracked, m.mostly_lost) == (1, 1, 0)


def test_a_kept_match_is_no_switch_and_a_gap_is_a_fragmentation():
    gt = tracks([(f, 1, *box(0)) for f in range(6)])
    pred = tracks([(0, 4, *box(1)), (1, 4, *box(1)), (3, 4, *box(1)), (4, 4, *box(1)), (5, 4, *box(1))])  # lost at frame 2
    m = evaluate_tracks(gt, pred)
    assert (m.id_switches, m.fragmentations, m.fn) == (0, 1, 1)
    # the match is kept while its IoU passes, even when another prediction fits better
    better = tracks([(0, 4, *box(3)), (1, 4, *box(3)), (1, 5, *box(0))])
    m = evaluate_tracks(tracks([(0, 1, *box(0)), (1, 1, *box(0))]), better)
    assert (m.id_switches, m.fp) == (0, 1)


def test_frames_without_truth_count_false_alarms_and_unannotated_frames_do_not():
    gt = tracks([(0, 1, *box(0))])
    pred = tracks([(0, 1, *box(0)), (1, 1, *box(0)), (5, 1, *box(0))])
    assert evaluate_tracks(gt, pred).fp == 2
    assert evaluate_tracks(gt, pred, frames=[0, 1]).fp == 1  # frame 5 was not annotated
    assert evaluate_tracks(gt, pred, frames=[0]).fp == 0


def test_ignored_truth_takes_no_credit_and_no_blame():
    gt = Tracks(frame=[0, 0, 1], id=[1, 2, 1], box=[box(0), box(100), box(0)], ignore=[False, True, False])
    pred = tracks([(0, 1, *box(0)), (0, 2, *box(101)), (1, 1, *box(0)), (1, 3, *box(101))])
    m = evaluate_tracks(gt, pred)
    assert (m.num_gt, m.num_pred, m.num_ignored_pred, m.fp) == (2, 3, 1, 1)  # frame 1 has no ignored box: a false alarm there
    assert m.mota == pytest.approx(0.5)


def test_labels_select_the_truth_scored():
    gt = Tracks(frame=[0, 0], id=[1, 2], box=[box(0), box(50)], label=np.array(["car", "person"], dtype=object))
    pred = tracks([(0, 1, *box(0))])
    assert evaluate_tracks(gt, pred, labels=["car"]).mota == pytest.approx(1.0)
    assert evaluate_tracks(gt, pred).fn == 1


def test_empty_inputs():
    gt = tracks([(0, 1, *box(0)), (1, 1, *box(0))])
    none = Tracks.empty()
    m = evaluate_tracks(gt, none)
    assert (m.fn, m.fp, m.mota, m.idf1, m.hota, m.deta, m.loca) == (2, 0, 0.0, 0.0, 0.0, 0.0, 1.0)
    assert math.isnan(m.motp) and math.isnan(m.idp)
    m = evaluate_tracks(none, gt)
    assert (m.fp, m.hota) == (2, 0.0) and math.isnan(m.mota) and m.idf1 == 0.0
    m = evaluate_tracks(none, none, frames=range(5))
    assert (m.num_frames, m.fp, m.fn) == (5, 0, 0) and math.isnan(m.mota)
    assert m.as_dict()["mota"] is None  # JSON has no NaN


def test_reused_ids():
    """An object that leaves and comes back keeps its id; a tracker id that moves to another
    object and back is no switch for CLEAR MOT (each object keeps the one prediction id it
    ever had) but one identity for IDF1, which can stand for one object only."""
    gt = tracks([(0, 1, *box(0)), (1, 1, *box(0)), (4, 1, *box(0)), (5, 1, *box(0)), (2, 2, *box(50)), (3, 2, *box(50))])
    pred = tracks([(0, 9, *box(0)), (1, 9, *box(0)), (2, 9, *box(50)), (3, 9, *box(50)), (4, 9, *box(0)), (5, 9, *box(0))])
    m = evaluate_tracks(gt, pred)
    assert (m.matches, m.id_switches, m.fragmentations) == (6, 0, 0)
    assert m.idtp == 4 and m.idf1 == pytest.approx(8 / 12)


# -- HOTA ---------------------------------------------------------------------------------------------


def test_hota_perfect_tracking_is_one():
    gt = tracks([(f, i, *box(20 * i, f)) for f in range(5) for i in (1, 2)])
    m = evaluate_tracks(gt, Tracks(frame=gt.frame, id=gt.id + 40, box=gt.box))
    assert (m.hota, m.deta, m.assa, m.loca) == (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0))


def test_hota_of_a_track_split_in_two_by_hand():
    """One object over 4 frames, found every time but under id 1 then id 2: DetA = 1; each
    match's association is TPA / (TPA + FNA + FPA) = 2 / (2 + 2 + 0) = 0.5, so AssA = 0.5 and
    HOTA = sqrt(1 * 0.5)."""
    gt = tracks([(f, 1, *box(0)) for f in range(4)])
    pred = tracks([(0, 1, *box(0)), (1, 1, *box(0)), (2, 2, *box(0)), (3, 2, *box(0))])
    m = evaluate_tracks(gt, pred)
    assert (m.deta, m.assa) == (pytest.approx(1.0), pytest.approx(0.5))
    assert m.hota == pytest.approx(math.sqrt(0.5))
    assert (m.assre, m.asspr) == (pytest.approx(0.5), pytest.approx(1.0))


def test_hota_with_a_miss_and_a_false_alarm_by_hand():
    """Frame 0: the object found (id 1); frame 1: missed, and a false alarm elsewhere.
    TP 1, FN 1, FP 1: DetA = 1/3. The match's association: TPA 1, FNA 1 (the object's other
    frame), FPA 0 → 0.5. HOTA = sqrt(1/3 · 1/2)."""
    gt = tracks([(0, 1, *box(0)), (1, 1, *box(0))])
    pred = tracks([(0, 1, *box(0)), (1, 2, *box(300))])
    m = evaluate_tracks(gt, pred)
    assert m.deta == pytest.approx(1 / 3) and m.assa == pytest.approx(0.5)
    assert m.hota == pytest.approx(math.sqrt(1 / 6))
    assert (m.detre, m.detpr) == (pytest.approx(0.5), pytest.approx(0.5))


def test_hota_averages_over_the_localisation_thresholds_by_hand():
    """A box of IoU exactly 0.5 with its object (10×10 against 10×20) counts at α = 0.05 … 0.50
    (10 thresholds) and is a miss plus a false alarm at 0.55 … 0.95 (9): HOTA = 10/19. LocA is
    0.5 where there are matches and 1 where there are none (TrackEval's convention)."""
    gt = tracks([(f, 1, 0, 0, 10, 10) for f in range(3)])
    pred = tracks([(f, 1, 0, 0, 10, 20) for f in range(3)])
    m = evaluate_tracks(gt, pred)
    assert m.hota_alpha == [pytest.approx(1.0)] * 10 + [pytest.approx(0.0)] * 9
    assert m.hota == pytest.approx(10 / 19)
    assert m.loca == pytest.approx((10 * 0.5 + 9 * 1.0) / 19)
    assert m.mota == pytest.approx(1.0)  # CLEAR at IoU >= 0.5 counts them all


def hota_by_the_definition(gt: Tracks, pred: Tracks) -> tuple[float, float, float, float]:
    """HOTA, DetA, AssA, LocA written as the paper reads, with plain loops: global alignment of
    identities from IoU shares, Hungarian per frame on alignment × IoU, then for every α the
    counts, and per matched pair the association Jaccard over the whole sequence."""
    from scipy.optimize import linear_sum_assignment

    frames = sorted(set(gt.frame.tolist()) | set(pred.frame.tolist()))
    gids, pids = sorted(set(gt.id.tolist())), sorted(set(pred.id.tolist()))
    g_count = {g: int((gt.id == g).sum()) for g in gids}
    p_count = {p: int((pred.id == p).sum()) for p in pids}
    potential: dict[tuple[int, int], float] = {}
    per_frame = []
    for f in frames:
        gi, pi = np.flatnonzero(gt.frame == f), np.flatnonzero(pred.frame == f)
        sim = iou_matrix(gt.box[gi], pred.box[pi])
        per_frame.append((gi, pi, sim))
        for a in range(len(gi)):
            for b in range(len(pi)):
                denom = sim[a, :].sum() + sim[:, b].sum() - sim[a, b]
                if denom > 0:
                    key = (int(gt.id[gi[a]]), int(pred.id[pi[b]]))
                    potential[key] = potential.get(key, 0.0) + sim[a, b] / denom
    align = {k: v / (g_count[k[0]] + p_count[k[1]] - v) for k, v in potential.items()}
    results = []
    for alpha in ALPHAS:
        tp = fn = fp = 0
        loc = 0.0
        pairs: dict[tuple[int, int], int] = {}
        for gi, pi, sim in per_frame:
            matched = 0
            if len(gi) and len(pi):
                score = np.array([[align.get((int(gt.id[gi[a]]), int(pred.id[pi[b]])), 0.0) * sim[a, b] for b in range(len(pi))] for a in range(len(gi))])
                for a, b in zip(*linear_sum_assignment(-score)):
                    if sim[a, b] >= alpha - 1e-12:
                        matched += 1
                        loc += sim[a, b]
                        key = (int(gt.id[gi[a]]), int(pred.id[pi[b]]))
                        pairs[key] = pairs.get(key, 0) + 1
            tp += matched
            fn += len(gi) - matched
            fp += len(pi) - matched
        assa = sum(c * c / (g_count[g] + p_count[p] - c) for (g, p), c in pairs.items()) / max(tp, 1)
        deta = tp / max(tp + fn + fp, 1)
        results.append((math.sqrt(deta * assa), deta, assa, loc / tp if tp else 1.0))
    return tuple(float(np.mean([r[k] for r in results])) for k in range(4))  # type: ignore[return-value]


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_hota_equals_the_definition_loop(seed):
    gt, pred = simulated(np.random.default_rng(100 + seed), n_frames=25, n_objects=5)
    m = evaluate_tracks(gt, pred)
    hota, deta, assa, loca = hota_by_the_definition(gt, pred)
    assert (m.hota, m.deta, m.assa, m.loca) == (pytest.approx(hota, abs=1e-12), pytest.approx(deta, abs=1e-12),
                                                pytest.approx(assa, abs=1e-12), pytest.approx(loca, abs=1e-12))
    assert 0.2 < m.hota < 0.95  # a partly right tracker, neither trivial end


@pytest.mark.parametrize("seed", range(3))
def test_equal_to_trackeval_where_it_is_installed(seed, monkeypatch):
    """TrackEval (github.com/JonathonLuiten/TrackEval, not a dependency) computes HOTA, CLEAR and
    Identity on the same sequences: HOTA, DetA, AssA, LocA, MOTA, IDsw and IDF1 agree. (MT and
    Frag follow motmetrics: TrackEval counts MT above 80 % strictly and a fragment after every
    absence of the object as well.)"""
    for name, value in (("float", float), ("int", int)):  # TrackEval predates numpy 2
        if not hasattr(np, name):
            monkeypatch.setattr(np, name, value, raising=False)
    hota_module = pytest.importorskip("trackeval.metrics.hota")
    from trackeval.metrics.clear import CLEAR
    from trackeval.metrics.identity import Identity

    gt, pred = simulated(np.random.default_rng(1000 + seed), n_frames=60, n_objects=9)
    frames = range(int(max(gt.frame.max(), pred.frame.max())) + 1)
    _, g_of = np.unique(gt.id, return_inverse=True)
    _, p_of = np.unique(pred.id, return_inverse=True)
    data: dict = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_gt_dets": len(gt), "num_tracker_dets": len(pred),
                  "num_gt_ids": len(gt.ids()), "num_tracker_ids": len(pred.ids()), "num_timesteps": len(frames)}
    for f in frames:
        gi, pi = np.flatnonzero(gt.frame == f), np.flatnonzero(pred.frame == f)
        data["gt_ids"].append(g_of[gi])
        data["tracker_ids"].append(p_of[pi])
        data["similarity_scores"].append(iou_matrix(gt.box[gi], pred.box[pi]))
    config = {"PRINT_CONFIG": False}
    h = hota_module.HOTA(config).eval_sequence(data)
    c, i = CLEAR(config).eval_sequence(data), Identity(config).eval_sequence(data)
    m = evaluate_tracks(gt, pred)
    for ours, theirs in ((m.hota, h["HOTA"]), (m.deta, h["DetA"]), (m.assa, h["AssA"]), (m.loca, h["LocA"]), (m.assre, h["AssRe"]), (m.asspr, h["AssPr"])):
        assert ours == pytest.approx(float(np.mean(theirs)), abs=1e-12)
    assert (m.mota, m.id_switches, m.idf1) == (pytest.approx(c["MOTA"], abs=1e-12), c["IDSW"], pytest.approx(i["IDF1"], abs=1e-12))


# -- MOTChallenge text files -----------------------------------------------------------------------------


def test_mot_text_round_trip(tmp_path):
    gt = Tracks(frame=[0, 0, 3], id=[1, 2, 1], box=[(10.5, 20.25, 40.5, 80.0), (0, 0, 1e-3, 7), (5, 5, 6, 6)], ignore=[False, True, False],
                label=np.array(["pedestrian", "car", "person"], dtype=object), visibility=[1.0, 0.25, 0.5])
    path = write_mot(tmp_path / "gt.txt", gt, groundtruth=True)
    assert path.read_text().splitlines()[0] == "1,1,10.5,20.25,30,59.75,1,1,1"
    back = read_mot(path, groundtruth=True)
    np.testing.assert_array_equal(back.frame, gt.frame)
    np.testing.assert_array_equal(back.id, gt.id)
    np.testing.assert_allclose(back.box, gt.box, rtol=0, atol=1e-12)
    assert back.ignore.tolist() == [False, True, False]
    assert back.label.tolist() == ["pedestrian", "car", "pedestrian"]  # class 1 is MOTChallenge's pedestrian
    assert back.visibility.tolist() == [1.0, 0.25, 0.5]
    result = Tracks(frame=[2, 2], id=[5, 6], box=[box(1), box(30)], score=[0.9, 0.25])
    back = read_mot(write_mot(tmp_path / "res.txt", result))
    assert back.score.tolist() == [0.9, 0.25] and back.ignore.tolist() == [False, False]
    # visibility and distractor classes mark boxes to ignore when reading ground truth
    assert read_mot(path, groundtruth=True, min_visibility=0.4).ignore.tolist() == [False, True, False]
    assert read_mot(path, groundtruth=True, distractors=[1]).ignore.tolist() == [True, True, True]


@pytest.mark.parametrize(("line", "problem"), [
    ("1,1,10,10,5", r"expected 6 to 10 comma-separated numbers .* got 5"),
    ("1,1,10,x,5,5", r"'x' is not a number"),
    ("0,1,10,10,5,5", r"frame must be a whole number from 1, got 0"),
    ("1.5,1,10,10,5,5", r"frame must be a whole number"),
    ("1,2.5,10,10,5,5", r"id must be a whole number"),
    ("1,1,10,10,-5,5", r"negative box size"),
    ("1,1,10,10,nan,5", r"NaN or infinite"),
])
def test_a_malformed_line_is_named_with_file_and_line(tmp_path, line, problem):
    path = tmp_path / "bad.txt"
    path.write_text("# frame,id,...\n1,1,0,0,5,5,1,-1,-1,-1\n\n" + line + "\n")
    with pytest.raises(ConfigError, match=rf"bad.txt:4: {problem}") as info:
        read_mot(path)
    assert "\n" not in str(info.value)


def test_an_id_twice_in_a_frame_names_both_lines(tmp_path):
    path = tmp_path / "twice.txt"
    path.write_text("1,1,0,0,5,5\n2,1,0,0,5,5\n1,1,9,9,5,5\n")
    with pytest.raises(ConfigError, match=r"twice.txt:3: id 1 appears twice in frame 1 \(also on line 1\)"):
        read_mot(path)
    with pytest.raises(ConfigError, match="MOT file not found"):
        read_mot(tmp_path / "missing.txt")


# -- drid's ground truth with identities ------------------------------------------------------------------


def test_keyframes_interpolate_and_null_ends_a_stretch():
    clip = GroundTruth.model_validate({"clips": [{"video": "v.mp4", "frames": [10, 30], "tracks": [
        {"id": 3, "label": "car", "keyframes": {"10": [0, 0, 10, 10], "14": [8, 4, 18, 14], "16": None, "20": {"box": [0, 0, 4, 4], "ignore": True}, "21": [2, 0, 6, 4]}},
    ]}]}).tracking_clips()[0]
    t = clip.truth
    assert t.frame.tolist() == [10, 11, 12, 13, 14, 20, 21]
    np.testing.assert_allclose(t.box[2], [4, 2, 14, 12])  # half-way from 10 to 14
    assert t.ignore.tolist() == [False] * 5 + [True, False]  # frames from an ignored keyframe to the next are ignored
    assert clip.frames.tolist() == list(range(10, 31)) and clip.labels == {"car"}


def test_tracking_ground_truth_problems_name_the_file_and_place(tmp_path):
    import json

    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"format": "drid-groundtruth", "clips": [{"video": "v.mp4", "frames": [0, 9], "tracks": [
        {"id": 1, "label": "car", "keyframes": {"3": [0, 0, 5, 5]}}, {"id": 1, "label": "car", "keyframes": {"4": [0, 0, 5, 5]}}]}]}))
    with pytest.raises(ConfigError, match=r"t.json: clips\[0\]: .*tracks\[1\]: id 1 is used by an earlier track"):
        load_groundtruth(bad)
    bad.write_text(json.dumps({"format": "drid-groundtruth", "clips": [{"video": "v.mp4", "frames": [0, 9], "tracks": [
        {"id": 1, "label": "car", "keyframes": {"12": [0, 0, 5, 5]}}]}]}))
    with pytest.raises(ConfigError, match=r"keyframe 12 is outside the clip's frames \[0, 9\]"):
        load_groundtruth(bad)
    bad.write_text(json.dumps({"format": "drid-groundtruth", "clips": [{"video": "v.mp4", "frames": [0, 9], "tracks": [
        {"id": 1, "label": "car", "keyframes": {"2": [5, 0, 1, 5]}}]}]}))
    with pytest.raises(ConfigError, match=r"clips\[0\].tracks\[0\].keyframes: .*keyframe 2: .*out of order"):
        load_groundtruth(bad)


def test_video_frames_with_track_ids_are_tracking_ground_truth():
    gt = GroundTruth.model_validate({"images": [
        {"image": "v.mp4", "frame": 4, "objects": [{"label": "car", "box": [0, 0, 10, 10], "track_id": 1}]},
        {"image": "v.mp4", "frame": 2, "from_frame": 0, "objects": [{"label": "car", "box": [1, 0, 11, 10], "track_id": 1},
                                                                     {"label": "car", "box": [50, 0, 60, 10], "track_id": 2, "ignore": True}]},
        {"image": "still.png", "objects": [{"label": "car", "box": [0, 0, 5, 5]}]},
    ]})
    (clip,) = gt.tracking_clips()
    assert clip.frames.tolist() == [2, 4] and clip.from_frame == 0  # scored on the listed frames only
    assert clip.truth.frame.tolist() == [2, 2, 4] and clip.truth.ignore.tolist() == [False, True, False]
