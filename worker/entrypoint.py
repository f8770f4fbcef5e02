"""The module dramatiq's worker processes import (``dramatiq worker.entrypoint``): it boots the
process, which configures the broker and declares every actor."""

from worker.bootstrap import boot

runtime = boot(migrate=False)
broker = runtime.broker
