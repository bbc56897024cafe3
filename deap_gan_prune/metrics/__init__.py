"""Measures of translated images."""
from .outline import (HIGHER_IS_BETTER, brown_mask, brown_share, outline_scores, rgb_to_hsv,
                      stripe_mask, stripe_share)

__all__ = ["HIGHER_IS_BETTER", "brown_mask", "brown_share", "outline_scores", "rgb_to_hsv",
           "stripe_mask", "stripe_share"]
