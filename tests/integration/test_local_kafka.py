"""The local broker manager: storage formatting, port clashes, start and clean stop."""

import socket
import uuid

import pytest

from shared import local_kafka
from shared.local_kafka import LocalKafka, LocalKafkaError, fetch_jars, free_port

pytestmark = pytest.mark.integration


def test_storage_format_accepts_a_cluster_id_that_starts_with_a_dash(tmp_path, monkeypatch):
    # base64 of a first byte 0xF8 begins with "-": once a read as a command-line option.
    monkeypatch.setattr(local_kafka.uuid, "uuid4", lambda: uuid.UUID(bytes=b"\xf8" + b"\x01" * 15))
    broker = LocalKafka(data_dir=tmp_path, port=free_port(), controller_port=free_port())
    broker._prepare(fetch_jars())
    assert "cluster.id=-" in (tmp_path / "logs" / "meta.properties").read_text()


def test_start_refuses_a_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = LocalKafka(data_dir=tmp_path, port=port, controller_port=free_port())
        with pytest.raises(LocalKafkaError, match=f"port {port}"):
            broker.start()
    assert broker.running_pid() is None


def test_start_is_idempotent_and_stop_is_clean(tmp_path):
    broker = LocalKafka(data_dir=tmp_path, port=free_port(), controller_port=free_port())
    pid = broker.start()
    try:
        assert broker.start() == pid  # already running: the same broker
        assert local_kafka.answers_metadata(broker.bootstrap_servers)
    finally:
        assert broker.stop() is True
    assert broker.running_pid() is None
    assert broker.stop() is False
    assert "shut down completely" in broker.log_tail(200)
