"""Media files: atomic 8 kHz WAV writes, generated names, deletion and sweeping of our files only."""
import os
import time
import wave

import anyio
import pytest

from ai_engine.playback.media_store import MediaStore


@pytest.mark.anyio
async def test_written_file_is_an_8khz_mono_16bit_wav_with_no_temp_left(tmp_path):
    store = MediaStore(tmp_path, "ai-generated")
    name = store.new_name("0123456789abcdef")
    path = await store.write(name, b"\x01\x00" * 8000)
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.wav"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"  # Asterisk (another user) must read it
    assert store.media_uri(name) == f"sound:ai-generated/{name}"


def test_names_are_generated_unique_and_safe(tmp_path):
    store = MediaStore(tmp_path, "x")
    names = {store.new_name("0123456789abcdef") for _ in range(100)}
    assert len(names) == 100 and all("/" not in n and n.startswith("aie-0123456789abcdef-") for n in names)


@pytest.mark.anyio
async def test_sweeper_removes_only_our_old_files(tmp_path):
    store = MediaStore(tmp_path, "x")
    old = await store.write(store.new_name("0123456789abcdef"), b"\x00\x00")
    new = await store.write(store.new_name("0123456789abcdef"), b"\x00\x00")
    admin = tmp_path / "welcome.wav"
    admin.write_bytes(b"RIFF")
    past = time.time() - 3600
    os.utime(old, (past, past))
    os.utime(admin, (past, past))
    assert await store.sweep(max_age_s=60) == 1
    assert not old.exists() and new.exists() and admin.exists()


@pytest.mark.anyio
async def test_call_files_are_deleted_at_hangup(tmp_path):
    store = MediaStore(tmp_path, "x")
    for _ in range(3):
        await store.write(store.new_name("aaaaaaaaaaaaaaaa"), b"\x00\x00")
    other = await store.write(store.new_name("bbbbbbbbbbbbbbbb"), b"\x00\x00")
    assert await store.delete_call_files("aaaaaaaaaaaaaaaa") == 3
    assert [p.name for p in tmp_path.iterdir()] == [other.name]


@pytest.mark.anyio
async def test_a_vanished_media_folder_is_reported_not_raised(tmp_path):
    folder = tmp_path / "media"
    store = MediaStore(folder, "x")
    await store.write(store.new_name("aaaaaaaaaaaaaaaa"), b"\x00\x00")
    assert store.writable()
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()  # an unmounted volume
    assert not store.writable()
    assert await store.delete_call_files("aaaaaaaaaaaaaaaa") == 0
    assert await store.sweep(max_age_s=0) == 0
    with pytest.raises(OSError):
        await store.write(store.new_name("aaaaaaaaaaaaaaaa"), b"\x00\x00")
