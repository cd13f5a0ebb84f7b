# Copyright (c) mmfa contributors. All rights reserved.
"""The metafiles are the one source of the tables: format, coverage, freshness."""
import glob
import os.path as osp
import re

import pytest
import yaml

from tests.utils import ROOT, load_tool

render = load_tool('tools/misc/render_metafiles.py')
dl = load_tool('tools/misc/download_checkpoint.py')

METAFILES = sorted(
    glob.glob(osp.join(ROOT, 'configs', '**', 'metafile.yml'), recursive=True))


def _yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_rendered_files_are_fresh(capsys):
    """model-index.yml, the README tables and model_zoo.md equal what the
    metafiles give (run tools/misc/render_metafiles.py after editing one)."""
    assert render.main(['--check']) == 0, capsys.readouterr()


def test_model_index_imports_every_metafile():
    imports = _yaml(osp.join(ROOT, 'model-index.yml'))['Import']
    assert sorted(osp.join(ROOT, p) for p in imports) == METAFILES
    assert len(METAFILES) >= 2


@pytest.mark.parametrize('metafile', METAFILES,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_metafile_covers_its_folder(metafile):
    """Every config of the folder has exactly one entry; entries are valid."""
    data = _yaml(metafile)
    folder = osp.dirname(metafile)
    names = [m['Name'] for m in data['Models']]
    assert len(names) == len(set(names))
    on_disk = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(folder, '*.py'))
    }
    assert set(names) == on_disk, set(names) ^ on_disk
    collections = {c['Name'] for c in data.get('Collections') or []}
    task = re.compile(r'^[^()]+ \((reported|measured) by [^()]+\)$')
    for model in data['Models']:
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        assert osp.splitext(osp.basename(model['Config']))[0] == model['Name']
        assert model['In Collection'] in collections
        assert 'Weights' in model and 'Sha256' in model
        for result in model.get('Results') or []:
            assert task.match(result['Task']), result['Task']
            assert result['Metrics'] and result['Dataset']
            for value in result['Metrics'].values():
                assert 0 < float(value) < 100


def test_readers_share_one_loader(tmp_path):
    """The downloader, the sha256 pin and the renderer read nested Import
    lists the same way (relative to the importing file)."""
    from mmfa.utils.compat import pinned_sha256
    from mmfa.utils.model_index import load_model_index
    sha = 'ab' * 32
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    (tmp_path / 'model-index.yml').write_text('Import:\n  - a/metafile.yml\n')
    (tmp_path / 'a' / 'metafile.yml').write_text(
        'Import:\n  - b/metafile.yml\nModels:\n  - Name: m1\n'
        '    Weights: http://x/m1.pth\n    Sha256: null\n')
    (tmp_path / 'a' / 'b' / 'metafile.yml').write_text(
        f'Models:\n  - Name: m2\n    Weights: http://x/m2.pth\n'
        f'    Sha256: {sha}\n')
    index = str(tmp_path / 'model-index.yml')
    assert [m['Name'] for m in load_model_index(index)['Models']] == ['m1', 'm2']
    assert [m['Name'] for m in dl.load_index(index)] == ['m1', 'm2']
    assert dl.find_model(dl.load_index(index), 'm2')['Sha256'] == sha
    assert pinned_sha256('http://x/m2.pth', index) == sha
    assert pinned_sha256('http://x/m1.pth', index) is None  # no digest listed


def _mini_repo(tmp_path):
    """A repository with one folder, its metafile, README and model_zoo.md."""
    folder = tmp_path / 'configs' / 'selfsup' / 'demo'
    folder.mkdir(parents=True)
    for name in ('demo-base_r50_in100', 'demo-mask_r50_in100',
                 'demo-new-ablation_r50_in100'):
        (folder / f'{name}.py').write_text('model = dict()\n')
    (folder / 'metafile.yml').write_text("""Collections:
  - Name: Demo
    README: configs/selfsup/demo/README.md
Models:
  - Name: demo-base_r50_in100
    In Collection: Demo
    Config: configs/selfsup/demo/demo-base_r50_in100.py
    Metadata:
      Paper tables: ['Table I: Basic / no FA']
    Results:
      - Task: Linear probe (reported by the authors)
        Dataset: ImageNet-100
        Metrics: {Top 1 Accuracy: 77.1}
    Weights: null
    Sha256: null
  - Name: demo-mask_r50_in100
    In Collection: Demo
    Config: configs/selfsup/demo/demo-mask_r50_in100.py
    Metadata:
      Paper tables: ['Table I: Basic / Mask']
    Results:
      - Task: Linear probe (reported by the authors)
        Dataset: ImageNet-100
        Metrics: {Top 1 Accuracy: 77.4}
      - Task: Linear probe (measured by mmfa)
        Dataset: ImageNet-100
        Metrics: {Top 1 Accuracy: 76.8}
        Notes: seed 0
    Weights: null
    Sha256: null
  - Name: demo-new-ablation_r50_in100
    In Collection: Demo
    Config: configs/selfsup/demo/demo-new-ablation_r50_in100.py
    Weights: null
    Sha256: null
""")
    readme = ('# Demo\n\nHand-written text, kept.\n\n'
              '<!-- metafile:begin tables -->\nold\n<!-- metafile:end -->\n'
              '\nTrailing notes, kept.\n')
    (folder / 'README.md').write_text(readme)
    zoo = ('# zoo\n\nQuickstart prose 12.3, kept.\n\n'
           '<!-- metafile:begin paper-tables -->\n<!-- metafile:end -->\n'
           '<!-- metafile:begin other-models -->\n<!-- metafile:end -->\n'
           '<!-- metafile:begin measured -->\n<!-- metafile:end -->\n')
    (tmp_path / 'model_zoo.md').write_text(zoo)
    return folder, readme, zoo


def test_render_check_and_stale_detection(tmp_path, capsys):
    folder, readme, zoo = _mini_repo(tmp_path)
    root = str(tmp_path)
    assert render.main(['--check', '--root', root]) == 1  # never rendered
    assert render.main(['--root', root]) == 0
    assert render.main(['--check', '--root', root]) == 0
    text = (folder / 'README.md').read_text()
    # hand-written parts untouched, the block holds the metafile's numbers
    assert text.startswith('# Demo\n\nHand-written text, kept.\n\n')
    assert text.endswith('<!-- metafile:end -->\n\nTrailing notes, kept.\n')
    rows = [line for line in text.splitlines() if line.startswith('| I |')]
    assert [r.split(' | ')[3] for r in rows] == ['77.1', '77.4']
    # a config without any number is listed, with no number invented
    other = [line for line in text.splitlines()
             if 'demo-new-ablation_r50_in100.py' in line]
    assert len(other) == 1 and '| — |' in other[0]
    zoo_text = (tmp_path / 'model_zoo.md').read_text()
    assert zoo_text.startswith('# zoo\n\nQuickstart prose 12.3, kept.\n\n')
    assert '| Basic | Mask | 77.4 |' in zoo_text
    assert 'demo-new-ablation_r50_in100.py' in zoo_text
    measured = [line for line in zoo_text.splitlines() if '76.8' in line]
    assert len(measured) == 1 and 'seed 0' in measured[0]
    assert (tmp_path / 'model-index.yml').read_text().endswith(
        'Import:\n  - configs/selfsup/demo/metafile.yml\n')
    capsys.readouterr()

    # an edited number makes the README and model_zoo.md stale
    meta = folder / 'metafile.yml'
    meta.write_text(meta.read_text().replace('77.4}', '77.9}'))
    assert render.main(['--check', '--root', root]) == 1
    out = capsys.readouterr().out
    assert 'stale: configs/selfsup/demo/README.md' in out
    assert 'stale: model_zoo.md' in out
    assert 'model-index.yml' not in out
    # a new folder with a metafile makes model-index.yml stale
    demo2 = tmp_path / 'configs' / 'other' / 'demo2'
    demo2.mkdir(parents=True)
    (demo2 / 'x_r50_in100.py').write_text('model = dict()\n')
    (demo2 / 'metafile.yml').write_text(
        'Collections:\n  - Name: D2\nModels:\n  - Name: x_r50_in100\n'
        '    In Collection: D2\n    Config: configs/other/demo2/x_r50_in100.py\n'
        '    Weights: null\n    Sha256: null\n')
    assert render.main(['--check', '--root', root]) == 1
    assert 'stale: model-index.yml' in capsys.readouterr().out
    assert render.main(['--root', root]) == 0
    assert 'demo2/metafile.yml' in (tmp_path / 'model-index.yml').read_text()
    assert '77.9' in (folder / 'README.md').read_text()


def test_bad_metafiles_are_named(tmp_path, capsys):
    folder, _, _ = _mini_repo(tmp_path)
    meta = folder / 'metafile.yml'
    good = meta.read_text()
    meta.write_text(good.replace('(reported by the authors)', ''))
    assert render.main(['--check', '--root', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'demo-base_r50_in100' in err and 'reported by' in err
    meta.write_text(good.replace('Sha256: null', f'Sha256: {"a" * 8}', 1))
    assert render.main(['--check', '--root', str(tmp_path)]) == 2
    assert 'Weights and Sha256 together' in capsys.readouterr().err
