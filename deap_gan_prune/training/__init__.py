"""CycleGAN training: teacher training, fine-tuning of pruned generators (with optional
distillation), and fitting a discriminator against a frozen generator.

In the pipeline it trains the teacher before the search, the once-for-all supernet the search
may score on (:mod:`.supernet`), and the slim generators after slimming; metrics then judge
the result."""
from ..streams import Augment
from .checkpoint import save_networks, save_state_atomic
from .config import CycleGANConfig
from .discriminator import fit_discriminator
from .distill import Teacher, distill_generator
from .distill_config import DistillConfig, DistillLoss, DistillResult
from .loop import cycle_batches, finetune, set_requires_grad, train_cyclegan
from .losses import PairTeacher, discriminator_loss, generator_losses, lsgan_loss
from .pair import ensure_discriminators, finetune_pair, supernet_generator, supernet_pair
from .pool import ImagePool
from .resumable import ResumeStateError
from .schedule import lr_factor
from .supernet import SupernetConfig, train_supernet
from .validation import PairValidation, ValidationSet
from .weights import init_weights

__all__ = ["Augment", "CycleGANConfig", "DistillConfig", "DistillLoss",
           "DistillResult", "ImagePool", "PairTeacher", "PairValidation", "ResumeStateError",
           "SupernetConfig", "Teacher", "ValidationSet", "cycle_batches", "discriminator_loss",
           "distill_generator", "ensure_discriminators", "finetune", "finetune_pair",
           "fit_discriminator", "generator_losses", "init_weights", "lr_factor", "lsgan_loss",
           "save_networks", "save_state_atomic", "set_requires_grad", "supernet_generator",
           "supernet_pair", "train_cyclegan", "train_supernet"]
