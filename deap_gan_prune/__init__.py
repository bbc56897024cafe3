"""deap_gan_prune: compress CycleGAN generators by evolving channel masks with DEAP."""
from .maskspace import ChannelGroup, MaskSpace
from .models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
from .widths import GeneratorWidths, count_macs, count_parameters

__version__ = "0.1.0"
