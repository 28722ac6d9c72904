"""A notebook client whose kernel, if it dies before it answers, is started again.

jupyter_client chooses a kernel's five TCP ports free and the kernel binds them a moment later: a kernel that
another process starts meanwhile can take one of them, and the new kernel dies at once ("Address already in
use"). Grading with --jobs, or building the website while a class is graded, makes that likely enough to see.
Mixed in before nbclient's NotebookClient or nbgrader's Execute (the sandboxed kernel talks over Unix sockets
and has no ports to lose, but a kernel can die as it starts for other passing reasons too).
"""

from __future__ import annotations

from jupyter_core.utils import run_sync

KERNEL_START_TRIES = 3  # in all, for one start


class StartedAgainIfItDies:
    async def async_start_new_kernel(self, **kwargs):
        self._start_arguments = kwargs
        await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        for tries in range(1, KERNEL_START_TRIES + 1):
            try:
                return await super().async_start_new_kernel_client()
            except RuntimeError as error:  # jupyter_client's "Kernel died before replying to kernel_info"
                if "died" not in str(error) or tries == KERNEL_START_TRIES:
                    raise
                self.log.warning(
                    "the kernel died as it started (try %d of %d); starting it again", tries, KERNEL_START_TRIES
                )
                self.km = self.create_kernel_manager()  # nbclient dropped the dead kernel's manager
                await super().async_start_new_kernel(**self._start_arguments)

    # nbclient's synchronous names are bound to its own coroutines: bind them to these
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
