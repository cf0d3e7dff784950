"""Slurm for every job kind: a job is a small dataclass (`job.Job`), its sbatch script comes from
one pure function (`render.render`) over a template in slurm/templates/, and submission, queries,
requeue bookkeeping and chains are thin wrappers around sbatch / sacct / squeue / scontrol.

    build.build_job(config, kind, flags)  ->  Job  (validated against the cluster profile)
    render.render(job)                     ->  sbatch text (snapshot-tested)
    submit.submit_job(job)                 ->  JobHandle (script saved in the run dir, event logged)
"""
