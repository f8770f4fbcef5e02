"""The broker module of dramatiq's worker processes: it boots the process (settings, database,
broker, clients). `pidsync worker` runs ``dramatiq worker.entrypoint worker.actors``
(:data:`worker.cli.processes.WORKER_MODULES`): dramatiq imports this module first, then
``worker.actors``, which declares every actor on the booted broker."""

from worker.bootstrap import boot
from worker.broker import FrozenHeapMiddleware

runtime = boot(migrate=False)
broker = runtime.broker
# Only here, in the processes `pidsync worker` runs (not in a test's in-process worker).
broker.add_middleware(FrozenHeapMiddleware())
