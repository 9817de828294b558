"""What a new user sees: no start-up chatter, progress with a total, TensorBoard logs, and a
one-line message for a .keras file that is not a zoo model."""

from __future__ import annotations

import math
import warnings

import keras
from tests.conftest import write_jpeg
from tests.test_cli import call_main, run_cli

CHATTER = ("oneDNN custom operations", "Could not find cuda drivers", "failed call to cuInit",
           "absl::InitializeLog", "cpu_feature_guard")


def test_cli_calls_start_without_tensorflows_native_chatter_but_keep_real_errors(tmp_path):
    listed = run_cli("zoo.fit", "--list", TF_CPP_MIN_LOG_LEVEL="0")  # even with TensorFlow's own logging on
    assert listed.returncode == 0 and "two_spirals" in listed.stdout
    assert not [c for c in CHATTER if c in listed.stderr], listed.stderr
    missing = run_cli("zoo.evaluate", tmp_path / "none.keras")
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: model file")
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr


def test_start_up_keeps_real_warnings_and_errors(capfd):
    import os

    from zoo.startup import quiet_native_start_up

    with quiet_native_start_up():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"I0000 00:00:1796163545.98 3328 port.cc:153] oneDNN custom operations are on.\n"
                    b"W0000 00:00:1796163545.99 3328 gpu_device.cc:23] a real start-up warning\n"
                    b"E0000 00:00:1796163545.99 3328 cuda_dnn.cc:85] Unable to load cuDNN: a real error\n")
    err = capfd.readouterr().err
    assert "a real error" in err and "a real start-up warning" in err
    assert "oneDNN" not in err and "InitializeLog" not in err


def test_image_pipelines_know_their_length_and_fit_does_not_warn_about_shuffle(tmp_path):
    from data_prep.cats_dogs import image_files
    from zoo.training import feed

    for label in ("cat", "dog"):
        for i in range(7):
            write_jpeg(tmp_path / "train" / f"{label}.{i}.jpg", size=(50 + i, 40))
    (tmp_path / "train" / "cat.99.jpg").write_bytes(b"\xff\xd8\xff broken")  # screened out, counted
    x, y = image_files(tmp_path, size=32)
    data = feed(x, y, batch_size=4, shuffle=True)
    assert int(data["x"].cardinality()) == math.ceil(14 / 4)  # Keras shows "k/4", not "k/Unknown"
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(**data, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]


def test_tensorboard_logs_are_written_where_asked(tmp_path, capsys):
    from zoo import fit

    code, _, _ = call_main(fit.main, ["two_spirals", "--epochs", "2", "--quiet", "--out", str(tmp_path / "out"),
                                      "--tensorboard", str(tmp_path / "logs")], capsys)
    assert code == 0
    events = list((tmp_path / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation"}


def test_a_keras_file_naming_an_unknown_class_is_one_line(tmp_path, capsys):
    from zoo import evaluate

    @keras.saving.register_keras_serializable(package="elsewhere")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    model = keras.Sequential([keras.Input((3,)), Doubler()])
    model.save(tmp_path / "foreign.keras")
    del keras.saving.get_custom_objects()["elsewhere>Doubler"]  # as in a process without that code
    code, _, err = call_main(evaluate.main, [str(tmp_path / "foreign.keras")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "references the class 'Doubler'" in err and "not a zoo model" in err
