"""LoRA fine-tuning of HunyuanVideo-Foley on a studio's own recorded Foley.

Data flows one way, one module per step:

- `discovery`: DATA -> `TrainingPair`s (a folder of videos with audio files of the same base
  name, or timelines whose picture clips have Foley clips under them on audio tracks).
- `validation`: every pair opened and measured before any model is loaded; all problems are
  reported together (`DatasetError`).
- `extraction`: SigLIP2, Synchformer and CLAP features and DAC-VAE latents, computed once and
  kept in an on-disk cache (`feature_cache`).
- `windows`: equal-length training windows cut from the cached features, batch by batch.
- `lora`, `objective`, `trainer`, `checkpoints`: peft LoRA on the transformer's attention and
  MLP projections, the rectified-flow loss, the loop, resumable checkpoints.
- `adapters`: serving: adapters by name from a LoRA directory, cached and applied per clip.

`plugin_server/commands/finetune.py` is the command line; docs/finetune.md the user's guide.
Nothing here is imported by the server unless a LoRA is asked for.
"""
