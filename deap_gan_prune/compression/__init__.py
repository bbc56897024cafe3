"""From a trained CycleGAN (or one generator of any class) to a deployable slim model in one
call: :func:`compress` (search, slim, fine-tune, evaluate, export, report), resumable stage by
stage in its run folder, with its settings in :class:`CompressConfig` (TOML or YAML files)."""
from .config import STAGES, CompressConfig, CompressError, load_config, read_config_file, to_toml
from .run import compress

__all__ = ["STAGES", "CompressConfig", "CompressError", "compress", "load_config",
           "read_config_file", "to_toml"]
