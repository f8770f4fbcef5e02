"""The module dramatiq's worker processes import (``dramatiq worker.entrypoint``): it boots the
process (settings, database, broker, clients) and declares every actor on the broker; other
processes only send messages by name and declare none."""

from worker.bootstrap import boot

runtime = boot(migrate=False)
broker = runtime.broker

import worker.actors  # noqa: E402, F401 - declares every actor, once the broker is bound
