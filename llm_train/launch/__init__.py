"""Process launch: distributed environment detection and local/Slurm launchers."""
