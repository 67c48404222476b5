"""The policy/value network (Flax linen; params are a plain pytree that mctx passes through).

Input: the residual [S, S, S], the last h moves as rank-1 tensors [h, S, S, S] and scalars.
Torso: AlphaTensor's "attentive modes": the S x S x S x (h+1) input is read as three S x S grids
(one per pair of modes); each layer runs, for each pair of grids that share a mode, self-attention
along the rows of the two grids laid side by side ([S, 2S, c]), so every cell attends to the cells
that share one of its coordinates. Output: 3 S^2 embeddings.
Policy head: an autoregressive transformer decoder over action tokens (``agents.tokens``), with
cross-attention to the torso embeddings; teacher forcing in training, sampling at inference.
Value head: q quantiles of the return, read out risk-seeking (mean of the upper quantiles).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from agents.config import AgentConfig
from agents.tokens import Tokenizer


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Static sizes of a network (hashable)."""

    size: int
    history: int
    return_scale: int  # typical size of a game's return (moves, times 3 in the symmetric game)
    width: int
    heads: int
    torso_layers: int
    decoder_layers: int
    quantiles: int
    tokenizer: Tokenizer


def network_spec(config: AgentConfig, size: int, tokenizer: Tokenizer) -> NetworkSpec:
    return NetworkSpec(size=size, history=config.history,
                       return_scale=config.max_moves * (3 if config.symmetric else 1),
                       width=config.width, heads=config.heads, torso_layers=config.torso_layers,
                       decoder_layers=config.decoder_layers, quantiles=config.quantiles,
                       tokenizer=tokenizer)


class _Block(nn.Module):
    """Pre-norm transformer block: self-attention over the second-to-last axis (optionally
    causal), optional cross-attention to a per-example context, MLP."""

    width: int
    heads: int
    causal: bool = False
    cross: bool = False

    @nn.compact
    def __call__(self, x, context=None):  # x [B, ..., T, c], context [B, M, c]
        mask = nn.make_causal_mask(x[..., 0]) if self.causal else None
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.width)(
            h, h, mask=mask)
        if self.cross:
            # All query positions of an example attend to its context at once, so the context's
            # keys and values are projected once per example, not once per candidate move.
            h = nn.LayerNorm()(x).reshape(x.shape[0], -1, x.shape[-1])
            h = nn.MultiHeadDotProductAttention(num_heads=self.heads,
                                                qkv_features=self.width)(h, context)
            x = x + h.reshape(x.shape)
        h = nn.LayerNorm()(x)
        h = nn.Dense(2 * self.width)(h)
        return x + nn.Dense(self.width)(nn.gelu(h))


class Torso(nn.Module):
    spec: NetworkSpec

    @nn.compact
    def __call__(self, residual, history, scalars):
        """residual [B, S, S, S], history [B, h, S, S, S], scalars [B, F] -> [B, 3 S^2, c]."""
        s, c = self.spec.size, self.spec.width
        x = jnp.concatenate([residual[..., None], jnp.moveaxis(history, 1, -1)], axis=-1)
        x = x.astype(jnp.float32)  # [B, S, S, S, h+1]
        batch = x.shape[0]
        # Grid g holds modes (g, g+1) as its two axes and mode g+2 flattened into features.
        grids = [
            x.reshape(batch, s, s, -1),
            jnp.transpose(x, (0, 2, 3, 1, 4)).reshape(batch, s, s, -1),
            jnp.transpose(x, (0, 3, 1, 2, 4)).reshape(batch, s, s, -1),
        ]
        extra = nn.Dense(c)(scalars)[:, None, None, :]
        grids = [nn.Dense(c)(g) + extra for g in grids]  # 3 x [B, S, S, c]
        for _ in range(self.spec.torso_layers):
            for a in range(3):
                b = (a + 1) % 3
                # Grid a is (mode a, mode a+1), grid b is (mode a+1, mode a+2): they share mode
                # a+1, which becomes the row index of the side-by-side layout [B, S, 2S, c].
                rows = jnp.concatenate([jnp.swapaxes(grids[a], 1, 2), grids[b]], axis=2)
                rows = _Block(c, self.spec.heads)(rows)
                grids[a] = jnp.swapaxes(rows[:, :, :s], 1, 2)
                grids[b] = rows[:, :, s:]
        out = jnp.concatenate([g.reshape(batch, s * s, c) for g in grids], axis=1)
        return nn.LayerNorm()(out)


class PolicyDecoder(nn.Module):
    spec: NetworkSpec

    @nn.compact
    def __call__(self, context, tokens):
        """context [B, M, c], tokens [B, N, L] (teacher forcing input) -> logits [B, N, L, V].

        Position i sees tokens < i (a start token replaces the shift-in)."""
        tok = self.spec.tokenizer
        c = self.spec.width
        shifted = jnp.concatenate(
            [jnp.full_like(tokens[..., :1], tok.vocabulary), tokens[..., :-1]], axis=-1)
        x = nn.Embed(tok.vocabulary + 1, c)(shifted)
        x = x + self.param("position", nn.initializers.normal(0.02), (tok.length, c))
        for _ in range(self.spec.decoder_layers):
            x = _Block(c, self.spec.heads, causal=True, cross=True)(x, context)
        return nn.Dense(tok.vocabulary)(nn.LayerNorm()(x))


class ValueHead(nn.Module):
    spec: NetworkSpec

    @nn.compact
    def __call__(self, embeddings):  # [B, M, c] -> [B, q]
        h = jnp.mean(embeddings, axis=1)
        h = nn.gelu(nn.Dense(self.spec.width)(h))
        # Returns are about -return_scale: scale the output so the head starts near that range.
        scale = self.spec.return_scale
        return nn.Dense(self.spec.quantiles)(h) * scale - scale / 2


class PolicyValueNet(nn.Module):
    spec: NetworkSpec

    def setup(self):
        self.torso = Torso(self.spec)
        self.decoder = PolicyDecoder(self.spec)
        self.value_head = ValueHead(self.spec)

    def __call__(self, residual, history, scalars, tokens):
        """Training path: (value quantiles [B, q], policy logits [B, N, L, V]) for N target moves
        per state given as tokens [B, N, L]."""
        embeddings = self.torso(residual, history, scalars)
        return self.value_head(embeddings), self.decode(embeddings, tokens)

    def embed(self, residual, history, scalars):
        embeddings = self.torso(residual, history, scalars)
        return embeddings, self.value_head(embeddings)

    def decode(self, embeddings, tokens):
        """embeddings [B, M, c], tokens [B, N, L] -> logits [B, N, L, V]."""
        return self.decoder(embeddings, tokens)


def risk_seeking_value(quantiles: jnp.ndarray, level: float) -> jnp.ndarray:
    """[..., q] -> [...]: mean of the quantiles whose level (i + 0.5) / q is above ``level``."""
    q = quantiles.shape[-1]
    levels = (jnp.arange(q) + 0.5) / q
    keep = levels >= level
    keep = keep.at[-1].set(True)
    return jnp.sum(jnp.sort(quantiles, axis=-1) * keep, axis=-1) / jnp.sum(keep)


def quantile_loss(quantiles: jnp.ndarray, target: jnp.ndarray, kappa: float = 1.0) -> jnp.ndarray:
    """Quantile-regression Huber loss of quantiles [..., q] against scalar returns [...] -> [...]."""
    q = quantiles.shape[-1]
    tau = (jnp.arange(q) + 0.5) / q
    error = target[..., None] - quantiles
    huber = jnp.where(jnp.abs(error) <= kappa, 0.5 * error ** 2,
                      kappa * (jnp.abs(error) - 0.5 * kappa))
    weight = jnp.abs(tau - (error < 0).astype(jnp.float32))
    return jnp.mean(weight * huber / kappa, axis=-1)


def masked_log_probs(logits: jnp.ndarray, dims: jnp.ndarray, tokens: jnp.ndarray,
                     tokenizer: Tokenizer) -> jnp.ndarray:
    """Log-probability of token sequences under the legality mask.

    logits [B, N, L, V], dims [B, 3], tokens [B, N, L] -> [B, N]."""
    mask = tokenizer.mask(dims[:, None, :], tokens)  # [B, N, L, V]
    logp = jax.nn.log_softmax(jnp.where(mask, logits, -1e9), axis=-1)
    picked = jnp.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
    return jnp.sum(picked, axis=-1)


def sample_moves(net: PolicyValueNet, params: Any, embeddings: jnp.ndarray, dims: jnp.ndarray,
                 key: jax.Array, count: int, temperature: float):
    """Sample ``count`` moves per state (the key is consumed).

    embeddings [B, M, c], dims [B, 3] -> (tokens [B, K, L] int32, log-probabilities [B, K] of
    each sample under the network at temperature 1, and under the sampling distribution).
    """
    tok = net.spec.tokenizer
    b = embeddings.shape[0]
    tokens = jnp.zeros((b, count, tok.length), jnp.int32)
    log_p = jnp.zeros((b, count))
    log_beta = jnp.zeros((b, count))
    keys = jax.random.split(key, tok.length)

    def body(i, carry):
        tokens, log_p, log_beta = carry
        logits = net.apply(params, embeddings, tokens, method=PolicyValueNet.decode)[:, :, i]
        mask = tok.mask(dims[:, None, :], tokens)[:, :, i]  # [B, K, V]
        logits = jnp.where(mask, logits, -1e9)
        logp = jax.nn.log_softmax(logits, axis=-1)
        logb = jax.nn.log_softmax(logits / temperature, axis=-1)
        choice = jax.random.categorical(keys[i], logb, axis=-1)  # [B, K]
        tokens = tokens.at[:, :, i].set(choice)
        log_p = log_p + jnp.take_along_axis(logp, choice[..., None], axis=-1)[..., 0]
        log_beta = log_beta + jnp.take_along_axis(logb, choice[..., None], axis=-1)[..., 0]
        return tokens, log_p, log_beta

    return jax.lax.fori_loop(0, tok.length, body, (tokens, log_p, log_beta))
