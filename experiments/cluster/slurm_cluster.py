"""Start a SLURM-backed Dask cluster for implsim batches and print its address.

Needs ``pip install dask-jobqueue`` and queue settings in ``~/.config/dask/jobqueue.yaml``
(see ``jobqueue.yaml`` beside this file). Use PBSCluster instead of SLURMCluster for PBS.
"""

from dask_jobqueue import SLURMCluster

if __name__ == "__main__":
    cluster = SLURMCluster(config_name="implsim")
    cluster.scale(jobs=10)
    print(cluster.scheduler_address, flush=True)
    input("cluster running; run `implsim experiment FILE --out DIR --scheduler ADDRESS`, "
          "then press Enter here to stop\n")
    cluster.close()
