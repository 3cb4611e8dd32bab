"""Each loss against a hand computation or a slow, obviously-correct reference loop."""
import math

import pytest
import torch

from minilab import losses


def gae_reference(rewards, values, mask, gamma, lam):
    """The readable backward loop of GAE (lm-human-preference-details style)."""
    B, T = rewards.shape
    advantages = torch.zeros(B, T)
    for b in range(B):
        n = int(mask[b].sum())
        last = 0.0
        for t in reversed(range(n)):
            next_value = values[b, t + 1].item() if t + 1 < n else 0.0
            delta = rewards[b, t].item() + gamma * next_value - values[b, t].item()
            last = delta + gamma * lam * last
            advantages[b, t] = last
    returns = (advantages + values) * mask
    return advantages, returns


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 1.0), (0.99, 0.0), (1.0, 1.0)])
def test_gae_matches_loop(gamma, lam):
    g = torch.Generator().manual_seed(0)
    B, T = 5, 9
    rewards, values = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    lengths = torch.tensor([9, 1, 4, 7, 2])
    mask = (torch.arange(T)[None] < lengths[:, None]).float()
    adv, ret = losses.gae(rewards * mask, values, mask, gamma, lam)
    ref_adv, ref_ret = gae_reference(rewards * mask, values, mask, gamma, lam)
    torch.testing.assert_close(adv, ref_adv, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ret, ref_ret, atol=1e-5, rtol=1e-5)


def test_gae_by_hand():
    # one sequence of two tokens, gamma = lam = 1: A_1 = r_1 - V_1, A_0 = r_0 + V_1 - V_0 + A_1
    rewards = torch.tensor([[0.0, 1.0]])
    values = torch.tensor([[0.5, 0.25]])
    adv, ret = losses.gae(rewards, values, torch.ones(1, 2), 1.0, 1.0)
    assert adv.tolist() == [[0.5, 0.75]]
    assert ret.tolist() == [[1.0, 1.0]]


def test_kl_estimators_by_hand():
    lp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    # log-ratio lp - ref = [0.5, -1.0]
    assert losses.kl_penalty(lp, ref, "k1").tolist() == pytest.approx([0.5, -1.0])
    assert losses.kl_penalty(lp, ref, "k2").tolist() == pytest.approx([0.125, 0.5])
    assert losses.kl_penalty(lp, ref, "k3").tolist() == pytest.approx(
        [math.exp(-0.5) - 1 + 0.5, math.exp(1.0) - 1 - 1.0])
    with pytest.raises(ValueError, match="allowed: k1, k2, k3"):
        losses.kl_penalty(lp, ref, "k4")


def test_kl_estimators_are_unbiased_where_claimed():
    # samples from p; true KL(p||q) between two categoricals; k1 and k3 means converge to it
    p = torch.tensor([0.7, 0.2, 0.1])
    q = torch.tensor([0.4, 0.4, 0.2])
    true_kl = (p * (p / q).log()).sum().item()
    x = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    lp, ref = p.log()[x], q.log()[x]
    for est in ("k1", "k3"):
        assert losses.kl_penalty(lp, ref, est).mean().item() == pytest.approx(true_kl, abs=0.005)
    assert (losses.kl_penalty(lp, ref, "k3") >= 0).all()


def test_bradley_terry_by_hand():
    loss = losses.bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0]))
    expected = (-math.log(1 / (1 + math.exp(-1.0))) + math.log(2)) / 2
    assert loss.item() == pytest.approx(expected)
    # a large margin is numerically stable
    assert losses.bradley_terry_loss(torch.tensor([-100.0]), torch.tensor([100.0])).item() == pytest.approx(200.0)


def test_clipped_surrogate_at_and_beyond_the_boundaries():
    eps = 0.2
    old = torch.zeros(1, 4)
    # ratios 1.0, 1.2 (on the boundary), 1.5 (beyond), 0.5 (beyond, below)
    new = torch.log(torch.tensor([[1.0, 1.2, 1.5, 0.5]]))
    mask = torch.ones(1, 4)
    # positive advantage: gain capped at 1+eps; ratio below 1-eps is not clipped (min keeps r·A)
    loss, stats = losses.ppo_policy_loss(new, old, torch.ones(1, 4), mask, eps)
    assert loss.item() == pytest.approx(-(1.0 + 1.2 + 1.2 + 0.5) / 4, abs=1e-6)
    assert stats["clipfrac"] == pytest.approx(0.25)        # only ratio 1.5 bites
    # negative advantage: the clip bites below 1-eps; above, the min keeps the larger penalty r·A
    loss, stats = losses.ppo_policy_loss(new, old, -torch.ones(1, 4), mask, eps)
    assert loss.item() == pytest.approx((1.0 + 1.2 + 1.5 + 0.8) / 4, abs=1e-6)
    assert stats["clipfrac"] == pytest.approx(0.25)        # only ratio 0.5 bites
    # beyond the boundary the clipped term has no gradient
    new = new.clone().requires_grad_(True)
    losses.ppo_policy_loss(new, old, torch.ones(1, 4), mask, eps)[0].backward()
    assert new.grad[0, 2].item() == 0.0 and new.grad[0, 0].item() != 0.0


def test_value_clipping_by_hand():
    old = torch.tensor([[0.0, 0.0]])
    values = torch.tensor([[1.0, 0.1]])
    returns = torch.tensor([[2.0, -1.0]])
    loss, stats = losses.ppo_value_loss(values, old, returns, torch.ones(1, 2), clip_value=0.2)
    # token 0: unclipped (1-2)^2 = 1, clipped (0.2-2)^2 = 3.24 -> max 3.24
    # token 1: unclipped (0.1+1)^2 = 1.21, clipped same (within clip) -> 1.21
    assert loss.item() == pytest.approx(0.5 * (3.24 + 1.21) / 2)
    assert stats["vf_clipfrac"] == pytest.approx(0.5)


def test_masking_ignores_masked_positions():
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 7, (2, 3), generator=torch.Generator().manual_seed(2))
    mask = torch.tensor([[1, 0, 1], [0, 0, 1]])
    full = -losses.token_logprobs(logits, targets)
    expected = (full[0, 0] + full[0, 2] + full[1, 2]) / 3
    assert losses.lm_loss(logits, targets, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    # garbage at masked positions changes nothing
    noisy = logits.clone()
    noisy[0, 1] += 100
    assert losses.lm_loss(noisy, targets, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses.lm_loss(logits, targets).item() == pytest.approx(full.mean().item(), rel=1e-6)


def test_whiten_masked():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    w = losses.whiten(x, mask)
    assert w[0, 3].item() == 0.0
    assert losses.masked_mean(w, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.masked_mean(w ** 2, mask).item() == pytest.approx(1.0, abs=1e-4)


def test_entropy_uniform_and_peaked():
    uniform = torch.zeros(1, 1, 8)
    assert losses.entropy(uniform).item() == pytest.approx(math.log(8))
    peaked = torch.tensor([[[50.0, 0, 0, 0]]])
    assert losses.entropy(peaked).item() == pytest.approx(0.0, abs=1e-6)


def test_approx_kl_estimates_kl_old_to_new():
    """approx_kl is KL(π_old || π_new) estimated on tokens sampled from π_old (k3 with r = π_new / π_old)."""
    old_p = torch.tensor([0.5, 0.3, 0.2])
    new_p = torch.tensor([0.05, 0.15, 0.8])
    exact = (old_p * (old_p / new_p).log()).sum().item()              # KL(old || new) = 1.08
    tokens = torch.multinomial(old_p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    new_lp, old_lp = new_p.log()[tokens][None], old_p.log()[tokens][None]
    _, stats = losses.ppo_policy_loss(new_lp, old_lp, torch.zeros_like(new_lp), torch.ones_like(new_lp), 0.2)
    inverted = (torch.expm1(old_lp - new_lp) - (old_lp - new_lp)).mean().item()   # r = π_old / π_new: 2.2
    assert abs(stats["approx_kl"] - exact) < 0.03, (stats, exact)
    assert abs(inverted - exact) > 0.5


def test_policy_loss_ignores_huge_logprobs_at_padded_positions():
    """A padded position whose log-probs drifted far (ratio overflows to inf) must not make the loss NaN."""
    new = torch.tensor([[-1.0, -1.2, 500.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -1.0, -500.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, stats = losses.ppo_policy_loss(new, old, torch.ones(1, 3), mask, 0.2)
    loss.backward()
    assert torch.isfinite(loss) and math.isfinite(stats["approx_kl"]) and torch.isfinite(new.grad).all()
    assert new.grad[0, 2] == 0


def test_soft_bradley_terry_by_hand_and_equal_to_hard_labels_at_one():
    rc, rr, p = torch.tensor([1.0, -0.5]), torch.tensor([0.0, 0.5]), torch.tensor([0.8, 0.6])
    sig = lambda x: 1 / (1 + math.exp(-x))
    by_hand = -(0.8 * math.log(sig(1.0)) + 0.2 * math.log(sig(-1.0)) + 0.6 * math.log(sig(-1.0)) + 0.4 * math.log(sig(1.0))) / 2
    assert losses.soft_bradley_terry_loss(rc, rr, p).item() == pytest.approx(by_hand, abs=1e-6)
    assert losses.soft_bradley_terry_loss(rc, rr, torch.ones(2)).item() == pytest.approx(
        losses.bradley_terry_loss(rc, rr).item(), abs=1e-7)
    # the loss is smallest where σ(margin) equals the vote share: margin log(4) for a 4-to-1 vote
    margins = torch.linspace(-3, 3, 601)
    best = min(margins, key=lambda m: losses.soft_bradley_terry_loss(m[None], torch.zeros(1), torch.tensor([0.8])).item())
    assert abs(best.item() - math.log(4)) < 0.02
