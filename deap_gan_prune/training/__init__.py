"""CycleGAN training: teacher training, fine-tuning of pruned generators (with optional
distillation), and fitting a discriminator against a frozen generator.

In the pipeline it trains the teacher before the search, the once-for-all supernet the search
may score on (:mod:`.supernet`), and the slim generators after slimming; metrics then judge
the result."""
from ..streams import Augment
from .brief import BriefDistillation
from .checkpoint import save_networks, save_state_atomic
from .config import CycleGANConfig, lr_factor
from .discriminator import fit_discriminator
from .distill import distill_generator
from .distill_config import DistillConfig, DistillLoss, DistillResult
from .loop import cycle_batches, finetune, set_requires_grad, train_cyclegan
from .losses import discriminator_loss, generator_losses, lsgan_loss
from .pool import ImagePool
from .resumable import ResumeStateError
from .validation import PairValidation, ValidationSet
from .weights import init_weights

__all__ = ["Augment", "BriefDistillation", "CycleGANConfig", "DistillConfig", "DistillLoss",
           "DistillResult",
           "ImagePool", "PairValidation", "ResumeStateError", "ValidationSet", "cycle_batches",
           "discriminator_loss", "distill_generator", "finetune", "fit_discriminator",
           "generator_losses", "init_weights", "lr_factor", "lsgan_loss", "save_networks",
           "save_state_atomic", "set_requires_grad", "train_cyclegan"]
