"""Flip-graph random walks over matrix multiplication schemes (Kauers & Moosbauer 2022; plus
transitions after Arai, Ichikawa & Hukushima 2024), mod 2 on bit-packed vectors and over Z with
coefficients in {-1, 0, 1}."""

from agents.flipgraph.packing import Packed, pack, unpack
from agents.flipgraph.search import Found, Progress, WalkConfig, Walker, harvest, search

__all__ = ["Found", "Packed", "Progress", "WalkConfig", "Walker", "harvest", "pack", "search",
           "unpack"]
