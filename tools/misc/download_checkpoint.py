# Copyright (c) mmfa contributors. All rights reserved.
"""Download a checkpoint listed in the model index and verify its sha256.

The index is a YAML file with a ``Models:`` list of dicts holding ``Name``,
``Weights`` (URL) and ``Sha256`` (the full hex digest, 64 digits: a prefix does
not verify a file); OpenMMLab's ``Import:`` list of metafiles is followed
(:func:`mmfa.utils.model_index.load_model_index`, the index's only reader). The
download goes to ``<file>.part`` and resumes it with an HTTP Range request after an
interruption (within the run, ``--retries`` times, or on the next run); the file is
moved into place only after its sha256 matched. Example::

    python tools/misc/download_checkpoint.py fa_nn_r50_in100 --out-dir checkpoints
"""
import argparse
import difflib
import hashlib
import http.client
import os
import os.path as osp
import re
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, List
from urllib.parse import urlparse

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download that failed for good (bad checksum, HTTP error, no entry)."""


def default_out_dir() -> str:
    """torch's hub checkpoint folder, where mmfa's http checkpoint loader looks,
    so ``load_from='https://...'`` reuses the verified file (torch's own rule,
    computed without importing torch)."""
    torch_home = os.getenv(
        'TORCH_HOME',
        osp.join(os.getenv('XDG_CACHE_HOME', '~/.cache'), 'torch'))
    return osp.join(osp.expanduser(torch_home), 'hub', 'checkpoints')


def load_index(path: str) -> List[Dict]:
    """The ``Models`` entries of a model index (following ``Import`` lists)."""
    from mmfa.utils.model_index import ModelIndexError, load_model_index
    try:
        return load_model_index(path)['Models']
    except ModelIndexError as e:
        raise DownloadError(f'{e} Pass --index to use another index.') from e


def find_model(models: List[Dict], name: str) -> Dict:
    """The entry called ``name``; an unknown name lists the closest names."""
    for model in models:
        if model.get('Name') == name:
            for key in ('Weights', 'Sha256'):
                if not model.get(key):
                    raise DownloadError(
                        f'Model "{name}" has no released checkpoint ({key} is '
                        'empty in the index): train it with its Config '
                        f'({model.get("Config", "see model_zoo.md")}), or add '
                        'the URL and sha256 of a checkpoint to the index.')
            if not re.fullmatch(r'[0-9a-fA-F]{64}', str(model['Sha256'])):
                # A prefix would let a file that only shares it pass as verified.
                raise DownloadError(
                    f'Sha256 of "{name}" in the index is "{model["Sha256"]}"; '
                    'it must be the hex sha256 of the file, all 64 digits.')
            return model
    names = [m.get('Name') for m in models if m.get('Name')]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    hint = (f'close matches: {", ".join(close)}' if close else
            f'known names: {", ".join(names[:20])}')
    raise DownloadError(f'No model named "{name}" in the index; {hint}.')


def sha256sum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _sha_matches(actual: str, expected: str) -> bool:
    return actual == expected.strip().lower()


def fetch_part(url: str, part: str, timeout: float = 60.0,
               quiet: bool = False) -> bool:
    """Append the rest of ``url`` to ``part`` (Range request if it has bytes).

    Returns:
        bool: True if the body arrived complete, False if the connection ended
        early (the bytes received so far stay in ``part`` for a resume).
    """
    start = osp.getsize(part) if osp.exists(part) else 0
    req = urllib.request.Request(url)
    if start:
        req.add_header('Range', f'bytes={start}-')
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:
            return True  # nothing left to fetch: the .part is complete
        raise DownloadError(f'HTTP {e.code} for {url}: {e.reason}') from e
    except (urllib.error.URLError, OSError) as e:
        if start or isinstance(e, TimeoutError):
            return False
        raise DownloadError(f'Cannot reach {url}: {e}') from e
    with resp:
        if start and resp.status != 206:
            start = 0  # the server ignored the Range header: start over
        expected = resp.headers.get('Content-Length')
        expected = int(expected) if expected is not None else None
        received = 0
        mode = 'ab' if start else 'wb'
        try:
            with open(part, mode) as f:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    if not quiet and expected:
                        pct = 100.0 * (start + received) / (start + expected)
                        print(f'\r{pct:5.1f}% of {start + expected} bytes',
                              end='', file=sys.stderr)
        except (OSError, http.client.HTTPException):  # dropped connection
            return False
        finally:
            if not quiet:
                print(file=sys.stderr)
    return expected is None or received >= expected


def download_checkpoint(name: str,
                        out_dir: str = None,
                        index: str = None,
                        retries: int = 3,
                        quiet: bool = False) -> str:
    """Download checkpoint ``name`` of the index into ``out_dir``, verified.

    Args:
        name (str): ``Name`` of the index entry.
        out_dir (str): Destination folder (default: torch hub's checkpoints).
        index (str): Model index YAML (default: the repository's
            ``model-index.yml``).
        retries (int): Resumed attempts after an interrupted transfer.
        quiet (bool): No progress output.

    Returns:
        str: Path of the verified checkpoint.
    """
    index = index or osp.join(REPO_ROOT, 'model-index.yml')
    model = find_model(load_index(index), name)
    url, expected = model['Weights'], str(model['Sha256'])
    out_dir = out_dir or default_out_dir()
    os.makedirs(out_dir, exist_ok=True)
    dst = osp.join(out_dir, osp.basename(urlparse(url).path))
    part = dst + '.part'
    if osp.isfile(dst):
        if _sha_matches(sha256sum(dst), expected):
            print(f'{dst} already present, sha256 OK')
            return dst
        print(f'{dst} exists with a wrong sha256: downloading it again',
              file=sys.stderr)
    if osp.exists(part) and not quiet:
        print(f'resuming {part} ({osp.getsize(part)} bytes)', file=sys.stderr)
    for attempt in range(retries + 1):
        if fetch_part(url, part, quiet=quiet):
            break
        if attempt < retries:
            print(f'transfer interrupted, resuming ({attempt + 1}/{retries})',
                  file=sys.stderr)
            time.sleep(min(2**attempt, 10) * 0.1)
    else:
        raise DownloadError(
            f'Download of {url} kept being interrupted; the partial file '
            f'{part} is kept, run the command again to resume.')
    actual = sha256sum(part)
    if not _sha_matches(actual, expected):
        os.remove(part)
        raise DownloadError(
            f'sha256 mismatch for {url}: expected {expected}, got {actual}; '
            'the download was deleted. Run again, or check the index entry.')
    os.replace(part, dst)
    print(f'saved {dst} (sha256 {actual})')
    return dst


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Download a checkpoint of the model index, verified.')
    parser.add_argument('name', help='Name of the model-index entry')
    parser.add_argument(
        '--out-dir', default=None,
        help=f'destination folder (default: {default_out_dir()})')
    parser.add_argument(
        '--index', default=None,
        help='model index YAML (default: model-index.yml of the repository)')
    parser.add_argument(
        '--retries', type=int, default=3,
        help='resumed attempts after an interrupted transfer')
    parser.add_argument('--quiet', action='store_true', help='no progress')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        download_checkpoint(args.name, args.out_dir, args.index, args.retries,
                            args.quiet)
    except DownloadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
