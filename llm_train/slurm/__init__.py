"""Slurm for every job kind, built from the cluster profile by one layer.

    build.build_job(site or experiment, kind, command, run_dir, opts)  ->  Job (validated)
    render.render(job)                    ->  sbatch text (snapshot-tested), any kind
    submit.submit_job(job)                ->  JobHandle (script saved in the run dir, event logged)
    functions.map_array(job, fn, args)    ->  submitit jobs (Python-function kinds, job arrays)

`profile.py` is the one reader of a cluster profile (partition, account, QoS, modules, setup,
environment, container), `options.py` the one check of extra sbatch options. Script kinds (train,
the data stages, doctor, commands) use the readable templates in slurm/templates/; function kinds
(prep arrays, evals, the per-node burn-in) go through submitit, whose sacct watcher also gives the
state of every job (`handle.py`).
"""
