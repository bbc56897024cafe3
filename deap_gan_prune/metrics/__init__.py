"""Measures of translated images, and running and timing generators over image sets.

Metrics come after the search, slimming and training: they judge what the pipeline produced.
Every score function returns its values by name together with ``"higher_is_better"``, a
mapping of each score's name to its direction (the ``*_HIGHER_IS_BETTER`` constants).
"""
from .evaluation import compare_latency, generator_latency, translate
from .fid import (
    FID_HIGHER_IS_BETTER,
    INCEPTION_WEIGHTS_NAME,
    FidConfig,
    FIDUnavailable,
    check_inception_weights,
    fid_kid,
)
from .fidelity import FIDELITY_HIGHER_IS_BETTER, PSNR_CAP_DB, fidelity_scores, generator_fidelity
from .judge import (
    JUDGE_HIGHER_IS_BETTER,
    Judge,
    JudgeConfig,
    frechet_distance,
    judge_accuracy,
    judge_scores,
    load_judge,
    save_judge,
    train_judge,
)
from .outline import (
    HIGHER_IS_BETTER,
    brown_mask,
    brown_share,
    outline_scores,
    rgb_to_hsv,
    stripe_mask,
    stripe_share,
)

__all__ = ["HIGHER_IS_BETTER", "brown_mask", "brown_share", "outline_scores", "rgb_to_hsv",
           "stripe_mask", "stripe_share",
           "JUDGE_HIGHER_IS_BETTER", "Judge", "JudgeConfig", "train_judge", "judge_scores",
           "judge_accuracy", "frechet_distance", "save_judge", "load_judge",
           "FIDELITY_HIGHER_IS_BETTER", "PSNR_CAP_DB", "fidelity_scores", "generator_fidelity",
           "FID_HIGHER_IS_BETTER", "INCEPTION_WEIGHTS_NAME", "FIDUnavailable",
           "FidConfig", "check_inception_weights", "fid_kid",
           "compare_latency", "generator_latency", "translate"]
