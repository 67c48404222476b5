"""The policy/value network (Flax linen; params are a plain pytree that mctx passes through).

Input: the residual [S, S, S], the last h moves as rank-1 tensors [h, S, S, S] and scalars.
Torso (``torso``): "attentive" is AlphaTensor's attentive modes: the S x S x S x (h+1) input is
read as three S x S grids (one per pair of modes); each layer runs, for each pair of grids that
share a mode, self-attention along the rows of the two grids laid side by side ([S, 2S, c]), so
every cell attends to the cells that share one of its coordinates; output 3 S^2 embeddings.
"mlp" is a residual MLP over the flattened input with ``context_slots`` output embeddings, far
cheaper for small targets.
Policy head: autoregressive over action tokens (``agents.tokens``) with a recurrent state and
cross-attention to the torso's embeddings, projected once per node; teacher forcing in training,
sampling in the search, one network call per node.
Value head: q quantiles of the return, read out risk-seeking (mean of the upper quantiles).
"""

from __future__ import annotations

import dataclasses

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agents.config import AgentConfig
from agents.tokens import Tokenizer


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Static sizes of a network (hashable)."""

    size: int
    history: int
    return_scale: int  # typical size of a game's return (moves, times 3 when moves are orbits)
    torso: str  # "attentive" or "mlp"
    width: int
    heads: int
    torso_layers: int
    context_slots: int  # embeddings the "mlp" torso hands to the policy head
    decoder_layers: int
    quantiles: int
    tokenizer: Tokenizer


def network_spec(config: AgentConfig, size: int, tokenizer: Tokenizer) -> NetworkSpec:
    return NetworkSpec(size=size, history=config.history,
                       return_scale=config.max_moves * (
                           3 if config.symmetric or config.symmetry else 1),
                       torso=config.torso, width=config.width, heads=config.heads,
                       torso_layers=config.torso_layers, context_slots=config.context_slots,
                       decoder_layers=config.decoder_layers, quantiles=config.quantiles,
                       tokenizer=tokenizer)


class _Block(nn.Module):
    """Pre-norm transformer block: self-attention over the second-to-last axis, MLP."""

    width: int
    heads: int

    @nn.compact
    def __call__(self, x):  # x [B, ..., T, c]
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.width)(
            h, h)
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


class MlpTorso(nn.Module):
    """A cheap torso for small targets: an MLP over the flattened input, read out as
    ``context_slots`` embeddings."""

    spec: NetworkSpec

    @nn.compact
    def __call__(self, residual, history, scalars):
        """residual [B, S, S, S], history [B, h, S, S, S], scalars [B, F] -> [B, M, c]."""
        batch, c = residual.shape[0], self.spec.width
        x = jnp.concatenate([residual.reshape(batch, -1), history.reshape(batch, -1)], axis=-1)
        h = nn.Dense(4 * c)(x.astype(jnp.float32)) + nn.Dense(4 * c)(scalars)
        for _ in range(self.spec.torso_layers):
            h = h + nn.Dense(4 * c)(nn.gelu(nn.LayerNorm()(h)))
        out = nn.Dense(self.spec.context_slots * c)(nn.gelu(nn.LayerNorm()(h)))
        return nn.LayerNorm()(out.reshape(batch, self.spec.context_slots, c))


@chex.dataclass(frozen=True)
class Context:
    """The torso's output prepared once per node for every decoding step of every sample."""

    keys: chex.Array  # [B, layers, M, heads, d]
    values: chex.Array  # [B, layers, M, heads, d]
    start: chex.Array  # [B, c]: the decoder state before the first token


class _DecoderLayer(nn.Module):
    """Cross-attention from the decoder state to the (pre-projected) context, then an MLP;
    ``attend`` False leaves only the MLP (the state already holds the pooled context)."""

    width: int
    heads: int
    attend: bool = True

    def setup(self):
        if self.attend:
            self.key_proj = nn.Dense(self.width)
            self.value_proj = nn.Dense(self.width)
            self.query_norm = nn.LayerNorm()
            self.query = nn.Dense(self.width)
            self.merge = nn.Dense(self.width)
        self.mlp_norm = nn.LayerNorm()
        self.mlp_in = nn.Dense(2 * self.width)
        self.mlp_out = nn.Dense(self.width)

    def project(self, context):  # [B, M, c] -> keys, values [B, M, heads, d]
        shape = context.shape[:-1] + (self.heads, self.width // self.heads)
        return self.key_proj(context).reshape(shape), self.value_proj(context).reshape(shape)

    def __call__(self, x, keys=None, values=None):  # x [B, N, c]; keys, values [B, M, heads, d]
        if self.attend:
            d = self.width // self.heads
            q = self.query(self.query_norm(x)).reshape(x.shape[:-1] + (self.heads, d))
            scores = jnp.einsum("bnhd,bmhd->bnhm", q, keys) / np.sqrt(d)
            attended = jnp.einsum("bnhm,bmhd->bnhd", jax.nn.softmax(scores, axis=-1), values)
            x = x + self.merge(attended.reshape(x.shape))
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.mlp_norm(x))))


class PolicyHead(nn.Module):
    """Autoregressive over action tokens with a recurrent state: step i reads the state (which
    sums the embeddings of the tokens chosen so far), attends to the context and emits logits for
    token i. The context is projected once per node (``prepare``), and each step costs the same
    whatever the prefix length: no recomputation over earlier positions."""

    spec: NetworkSpec

    def setup(self):
        c, tok = self.spec.width, self.spec.tokenizer
        self.context_norm = nn.LayerNorm()
        self.start = nn.Dense(c)
        self.embed = nn.Embed(tok.vocabulary, c)
        self.position = self.param("position", nn.initializers.normal(0.02), (tok.length, c))
        # decoder_layers 0: one MLP block per step and no cross-attention (the cheapest head).
        self.layers = ([_DecoderLayer(c, self.spec.heads) for _ in range(self.spec.decoder_layers)]
                       or [_DecoderLayer(c, self.spec.heads, attend=False)])
        self.out_norm = nn.LayerNorm()
        self.out = nn.Dense(tok.vocabulary)

    def prepare(self, embeddings) -> Context:  # [B, M, c]
        context = self.context_norm(embeddings)
        start = self.start(context.reshape(context.shape[0], -1))
        if not self.spec.decoder_layers:
            empty = jnp.zeros((context.shape[0], 0), context.dtype)
            return Context(keys=empty, values=empty, start=start)
        projected = [layer.project(context) for layer in self.layers]
        return Context(keys=jnp.stack([k for k, _ in projected], axis=1),
                       values=jnp.stack([v for _, v in projected], axis=1), start=start)

    def step(self, context: Context, state, position: int):
        """state [B, N, c] -> (logits [B, N, V], the state before the token is added)."""
        x = state + self.position[position]
        for i, layer in enumerate(self.layers):
            x = layer(x, context.keys[:, i], context.values[:, i]) if layer.attend else layer(x)
        return self.out(self.out_norm(x)), x

    def advance(self, x, token):  # x [B, N, c], token [B, N] -> next state
        return x + self.embed(token)

    def __call__(self, context: Context, tokens):
        """Teacher forcing: tokens [B, N, L] -> logits [B, N, L, V]."""
        state = jnp.broadcast_to(context.start[:, None],
                                 tokens.shape[:2] + context.start.shape[-1:])
        logits = []
        for i in range(self.spec.tokenizer.length):
            out, x = self.step(context, state, i)
            logits.append(out)
            state = self.advance(x, tokens[..., i])
        return jnp.stack(logits, axis=2)

    def sample(self, context: Context, fits, key, count: int, temperature: float):
        """``count`` token sequences per state; fits [B, L, V] is the per-position mask (see
        ``Tokenizer.fits``). The key is consumed. Returns (tokens [B, K, L] int32,
        log-probabilities [B, K] under the policy and under the sampling distribution)."""
        tok = self.spec.tokenizer
        batch = fits.shape[0]
        zero = tok.zero_tokens()
        # The first step is the same for every sample: it runs once per node ([B, 1, c]).
        state = context.start[:, None]
        factor_zero = jnp.ones((batch, 1), bool)  # the current factor has only zeros so far
        tokens, log_p, log_beta = [], 0.0, 0.0
        for i, k in enumerate(jax.random.split(key, tok.length)):
            logits, x = self.step(context, state, i)
            allowed = fits[:, None, i]  # [B, 1, V]
            if tok.is_factor_end(i):
                allowed = allowed & ~(factor_zero[..., None] & zero)
            logits = jnp.where(allowed, logits, -1e9)
            choice, logp_choice = _sample_token(k, logits / temperature, (batch, count))
            log_beta = log_beta + logp_choice
            log_p = log_p + (logp_choice if temperature == 1.0 else _log_prob(logits, choice))
            tokens.append(choice)
            factor_zero = (jnp.ones_like(choice, bool) if tok.is_factor_end(i)
                           else factor_zero & zero[choice])
            state = self.advance(x, choice)
        return jnp.stack(tokens, axis=-1).astype(jnp.int32), log_p, log_beta


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
        self.torso = Torso(self.spec) if self.spec.torso == "attentive" else MlpTorso(self.spec)
        self.policy = PolicyHead(self.spec)
        self.value_head = ValueHead(self.spec)

    def __call__(self, residual, history, scalars, tokens):
        """Training path: (value quantiles [B, q], policy logits [B, N, L, V]) for N target moves
        per state given as tokens [B, N, L]."""
        embeddings = self.torso(residual, history, scalars)
        return self.value_head(embeddings), self.policy(self.policy.prepare(embeddings), tokens)

    def evaluate(self, residual, history, scalars, fits, key, count: int, temperature: float):
        """Search path, one call per node: (value quantiles [B, q], tokens [B, K, L],
        log-probabilities [B, K] under the policy and the sampling distribution). The key is
        consumed."""
        embeddings = self.torso(residual, history, scalars)
        context = self.policy.prepare(embeddings)
        tokens, log_p, log_beta = self.policy.sample(context, fits, key, count, temperature)
        return self.value_head(embeddings), tokens, log_p, log_beta


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


def _sample_token(key: jax.Array, logits: jnp.ndarray, shape: tuple[int, ...]
                  ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Draws of shape ``shape`` from the rows of logits [..., V] (broadcast to ``shape``), by
    inverse CDF from one uniform per draw (``jax.random.categorical`` draws V Gumbels per draw,
    which dominated the search on a CPU). The CDF is one product with a triangular matrix (XLA's
    cumulative sum on a CPU took nine tenths of the draw); the draw is the first token of non-zero
    mass whose cumulative mass exceeds the uniform, so rounding in the product can never pick a
    masked token. Returns (index int32, its log-probability), each of ``shape``. The key is
    consumed."""
    size = logits.shape[-1]
    shifted = logits - jnp.max(logits, axis=-1, keepdims=True)
    mass = jnp.exp(shifted)
    cdf = mass @ jnp.triu(jnp.ones((size, size), mass.dtype))  # [..., V]
    selectable = mass > 0
    total = jnp.max(jnp.where(selectable, cdf, 0.0), axis=-1)
    u = jax.random.uniform(key, shape) * total
    index = jnp.argmax(selectable & (cdf > u[..., None]), axis=-1)
    picked = jnp.take_along_axis(jnp.broadcast_to(shifted, shape + shifted.shape[-1:]),
                                 index[..., None], axis=-1)[..., 0]
    return index.astype(jnp.int32), picked - jnp.log(total)


def _log_prob(logits: jnp.ndarray, index: jnp.ndarray) -> jnp.ndarray:
    """log softmax(logits)[index]: logits [..., V] (broadcast to index's shape), index [...]."""
    picked = jnp.take_along_axis(jnp.broadcast_to(logits, index.shape + logits.shape[-1:]),
                                 index[..., None], axis=-1)[..., 0]
    return picked - jax.nn.logsumexp(logits, axis=-1)
