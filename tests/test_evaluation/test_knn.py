# Copyright (c) mmfa contributors. All rights reserved.
import math

import pytest
import torch

from mmfa.evaluation import KNNAccuracy, knn_classify


def brute_force_knn(train, train_labels, test, k, T, num_classes):
    """One test sample at a time, in plain Python over sorted similarities."""
    out = torch.zeros(len(test), num_classes, dtype=torch.float64)
    train_n = [t / t.norm() for t in train]
    for i, q in enumerate(test):
        q = q / q.norm()
        sims = [(float(q @ m), int(y)) for m, y in zip(train_n, train_labels)]
        sims.sort(key=lambda s: -s[0])
        for sim, label in sims[:k]:
            out[i, label] += math.exp(sim / T)
    return out


@pytest.mark.parametrize('k,T,chunk', [(1, 0.07, 256), (5, 0.07, 3),
                                       (12, 0.5, 4), (30, 0.1, 7)])
def test_knn_classify_matches_brute_force(k, T, chunk):
    g = torch.Generator().manual_seed(k)
    train = torch.randn(30, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (30, ), generator=g)
    test = torch.randn(11, 8, generator=g, dtype=torch.float64)
    scores = knn_classify(train, labels, test, k=k, T=T, num_classes=4,
                          chunk_size=chunk)
    expected = brute_force_knn(train, labels, test, k, T, 4)
    torch.testing.assert_close(scores, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(scores.argmax(1), expected.argmax(1))


def test_knn_classify_scale_invariant_and_nearest_is_self():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(20, 6, generator=g)
    labels = torch.arange(20) % 5
    # scaled copies of the train features: with k=1 each finds itself
    scores = knn_classify(train, labels, 3.0 * train, k=1, T=0.07)
    assert torch.equal(scores.argmax(1), labels)
    assert scores.shape == (20, 5)


def test_knn_classify_clamps_k_and_checks_input():
    train = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 1, 0])
    with pytest.warns(UserWarning, match='only 4 train samples'):
        scores = knn_classify(train, labels, torch.randn(2, 3), k=200)
    # with k = all samples every train feature votes
    assert scores.shape == (2, 2)
    with pytest.raises(ValueError, match='Feature dims differ'):
        knn_classify(train, labels, torch.randn(2, 5), k=1)
    with pytest.raises(ValueError, match='train labels'):
        knn_classify(train, labels[:3], torch.randn(2, 3), k=1)
    with pytest.raises(ValueError, match='T > 0'):
        knn_classify(train, labels, torch.randn(2, 3), k=1, T=0)


def test_knn_accuracy_metric_matches_brute_force():
    g = torch.Generator().manual_seed(3)
    train = torch.randn(40, 8, generator=g)
    train_labels = torch.randint(0, 6, (40, ), generator=g)
    test = torch.randn(25, 8, generator=g)
    test_labels = torch.randint(0, 6, (25, ), generator=g)
    metric = KNNAccuracy(k=(15, 40), T=0.07, topk=(1, 3), num_classes=6)
    metric.set_memory(train, train_labels)
    metric.process(None, [
        dict(feats=f, gt_label=torch.tensor([int(y)]))
        for f, y in zip(test, test_labels)
    ])
    results = metric.evaluate(25)
    for k in (15, 40):
        expected = brute_force_knn(train.double(), train_labels,
                                   test.double(), k, 0.07, 6)
        # top-t is well defined only without zero-score ties in the first t
        assert (expected > 0).sum(1).min() >= 3
        ranked = expected.argsort(dim=1, descending=True)
        for t in (1, 3):
            hits = sum(int(y) in ranked[i, :t].tolist()
                       for i, y in enumerate(test_labels))
            assert results[f'knn/top{t}_k{k}'] == pytest.approx(
                100.0 * hits / 25)


def test_knn_accuracy_needs_memory_and_feats():
    metric = KNNAccuracy(k=1)
    with pytest.raises(KeyError, match="needs 'feats'"):
        metric.process(None, [dict(gt_label=0)])
    metric.process(None, [dict(feats=torch.ones(3), gt_label=0)])
    with pytest.raises(RuntimeError, match='set_memory'):
        metric.evaluate(1)
    with pytest.raises(ValueError, match='positive'):
        KNNAccuracy(k=0)


def test_knn_accuracy_registered():
    from mmfa.registry import METRICS
    metric = METRICS.build(dict(type='KNNAccuracy', k=200, T=0.07))
    assert isinstance(metric, KNNAccuracy) and metric.ks == (200, )
