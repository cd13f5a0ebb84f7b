# Copyright (c) mmfa contributors. All rights reserved.
import hashlib
import http.server
import os
import os.path as osp
import re
import threading

import pytest

from tests.utils import ROOT, load_tool


dl = load_tool('tools/misc/download_checkpoint.py')

PAYLOAD = bytes(range(256)) * 1000 + b'tail'  # 256004 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class RangeServer:
    """127.0.0.1 server for PAYLOAD that honours ``Range: bytes=N-`` and can cut
    the first ``truncate_first`` responses short (a dropped connection)."""

    def __init__(self, truncate_first=0, honour_range=True):
        self.requests = []  # (path, Range header or None)
        self.truncate_left = truncate_first
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get('Range')
                server.requests.append((self.path, rng))
                if self.path != '/ckpt/model-abc.pth':
                    self.send_error(404)
                    return
                start = 0
                if rng and honour_range:
                    start = int(re.fullmatch(r'bytes=(\d+)-', rng).group(1))
                    if start >= len(PAYLOAD):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header(
                        'Content-Range',
                        f'bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}')
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if server.truncate_left > 0:
                    server.truncate_left -= 1
                    body = body[:len(body) // 3]  # then close the connection
                    self.close_connection = True
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = (f'http://127.0.0.1:{self.httpd.server_address[1]}'
                    '/ckpt/model-abc.pth')
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05, ), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = RangeServer()
    yield srv
    srv.close()


def _index(tmp_path, url, sha, name='fa_nn_r50_in100'):
    path = tmp_path / 'model-index.yml'
    path.write_text(f"""Models:
  - Name: byol_r50_in100
    Weights: {url}.other
    Sha256: {'0' * 64}
  - Name: {name}
    Weights: {url}
    Sha256: {sha}
""")
    return str(path)


def test_good_checksum(tmp_path, server, capsys):
    out = tmp_path / 'ckpts'
    index = _index(tmp_path, server.url, SHA)
    assert dl.main(['fa_nn_r50_in100', '--out-dir', str(out), '--index',
                    index, '--quiet']) == 0
    dst = out / 'model-abc.pth'
    assert dst.read_bytes() == PAYLOAD
    assert not (out / 'model-abc.pth.part').exists()
    assert server.requests == [('/ckpt/model-abc.pth', None)]
    # present and verified: no second download
    assert dl.main(['fa_nn_r50_in100', '--out-dir', str(out), '--index',
                    index, '--quiet']) == 0
    assert len(server.requests) == 1
    assert 'already present' in capsys.readouterr().out


def test_bad_checksum_deletes_and_fails(tmp_path, server, capsys):
    out = tmp_path / 'ckpts'
    wrong = hashlib.sha256(b'something else').hexdigest()
    rc = dl.main(['fa_nn_r50_in100', '--out-dir', str(out), '--index',
                  _index(tmp_path, server.url, wrong), '--quiet'])
    assert rc != 0
    err = capsys.readouterr().err
    assert wrong in err and SHA in err and 'expected' in err
    assert os.listdir(out) == []  # neither the file nor the .part is kept


def test_resume_from_part_file(tmp_path, server):
    out = tmp_path / 'ckpts'
    out.mkdir()
    cut = 100000
    (out / 'model-abc.pth.part').write_bytes(PAYLOAD[:cut])
    dst = dl.download_checkpoint(
        'fa_nn_r50_in100', str(out), _index(tmp_path, server.url, SHA),
        quiet=True)
    assert server.requests == [('/ckpt/model-abc.pth', f'bytes={cut}-')]
    with open(dst, 'rb') as f:
        assert f.read() == PAYLOAD
    assert not (out / 'model-abc.pth.part').exists()


def test_server_ignoring_range_restarts(tmp_path):
    srv = RangeServer(honour_range=False)
    try:
        out = tmp_path / 'ckpts'
        out.mkdir()
        (out / 'model-abc.pth.part').write_bytes(b'stale bytes')
        dst = dl.download_checkpoint(
            'fa_nn_r50_in100', str(out), _index(tmp_path, srv.url, SHA),
            quiet=True)
        assert srv.requests == [('/ckpt/model-abc.pth', 'bytes=11-')]
        with open(dst, 'rb') as f:
            assert f.read() == PAYLOAD  # full body replaced the stale part
    finally:
        srv.close()


def test_interrupted_transfer_resumes_in_run(tmp_path):
    srv = RangeServer(truncate_first=2)
    try:
        out = tmp_path / 'ckpts'
        dst = dl.download_checkpoint(
            'fa_nn_r50_in100', str(out), _index(tmp_path, srv.url, SHA),
            retries=3, quiet=True)
        ranges = [r for _, r in srv.requests]
        # 1st: all, cut at a third; 2nd: resumes there, cut again; 3rd: the rest
        first = len(PAYLOAD) // 3
        second = first + (len(PAYLOAD) - first) // 3
        assert ranges == [None, f'bytes={first}-', f'bytes={second}-']
        with open(dst, 'rb') as f:
            assert f.read() == PAYLOAD
    finally:
        srv.close()


def test_interrupted_for_good_keeps_part(tmp_path, capsys):
    srv = RangeServer(truncate_first=10)
    try:
        out = tmp_path / 'ckpts'
        rc = dl.main(['fa_nn_r50_in100', '--out-dir', str(out), '--index',
                      _index(tmp_path, srv.url, SHA), '--retries', '1',
                      '--quiet'])
        assert rc == 1
        assert 'run the command again to resume' in capsys.readouterr().err
        part = out / 'model-abc.pth.part'
        assert 0 < part.stat().st_size < len(PAYLOAD)
        assert PAYLOAD.startswith(part.read_bytes())
    finally:
        srv.close()


def test_unknown_name_lists_close_matches(tmp_path, capsys):
    index = _index(tmp_path, 'http://127.0.0.1:9/x.pth', SHA)
    assert dl.main(['fa_nn_r50_in10', '--index', index,
                    '--out-dir', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert 'No model named "fa_nn_r50_in10"' in err
    assert 'fa_nn_r50_in100' in err
    assert dl.main(['x', '--index', str(tmp_path / 'none.yml')]) == 1
    assert 'does not exist' in capsys.readouterr().err


def test_http_error_is_reported(tmp_path, server, capsys):
    index = _index(tmp_path, server.url.replace('model-abc', 'missing'), SHA)
    assert dl.main(['fa_nn_r50_in100', '--index', index, '--out-dir',
                    str(tmp_path / 'o'), '--quiet']) == 1
    assert 'HTTP 404' in capsys.readouterr().err


def test_import_lists_are_followed(tmp_path):
    sub = tmp_path / 'configs'
    sub.mkdir()
    (sub / 'metafile.yml').write_text(
        'Models:\n  - Name: a\n    Weights: http://x/a.pth\n    Sha256: ab\n')
    with pytest.raises(dl.DownloadError, match='must be the hex sha256'):
        dl.find_model(dl.load_index(str(sub / 'metafile.yml')), 'a')
    (tmp_path / 'model-index.yml').write_text(
        'Import:\n  - configs/metafile.yml\n')
    models = dl.load_index(str(tmp_path / 'model-index.yml'))
    assert [m['Name'] for m in models] == ['a']


def test_project_model_index_lists_every_paper_config():
    """model-index.yml names each paper config; unreleased weights say so."""
    import glob

    from mmfa.utils.model_index import parse_task
    models = dl.load_index(osp.join(ROOT, 'model-index.yml'))
    names = {m['Name'] for m in models}
    configs = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(ROOT, 'configs/selfsup/*/*.py'))
    }
    assert names == configs
    for m in models:
        assert osp.isfile(osp.join(ROOT, m['Config']))
        # a config may have no number yet; each number says where it is from
        for r in m.get('Results') or []:
            assert parse_task(r['Task'])[1] in ('reported', 'measured')
    name = 'parallel-predictor-nn_resnet50_8xb64-accum8-coslr-200e_in100'
    with pytest.raises(dl.DownloadError, match='has no released checkpoint'):
        dl.find_model(models, name)


def test_a_sha256_prefix_does_not_verify(tmp_path, server):
    # Only the full digest counts: a file sharing the first digits must not pass.
    index = _index(tmp_path, server.url, SHA[:16])
    with pytest.raises(dl.DownloadError, match='all 64 digits'):
        dl.download_checkpoint('fa_nn_r50_in100', str(tmp_path / 'out'), index,
                               quiet=True)
