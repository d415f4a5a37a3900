"""``python -m cvlab info``: the device report."""

from __future__ import annotations

from cvlab.commands import COMMANDS, Command
from cvlab.device import DeviceReport, device_report


def _render(report: DeviceReport) -> str:
    memory = f", {report.memory_gb} GiB" if report.memory_gb is not None else ""
    return "\n".join(
        [
            f"device        {report.device} ({report.name}{memory})",
            f"cpu cores     {report.cpu_cores}",
            f"gpus          {report.gpu_count}",
            f"torch         {report.torch_version} (CUDA {report.cuda_version or 'none'}, "
            f"cuDNN {report.cudnn_version or 'none'})",
            f"torchvision   {report.torchvision_version}",
            f"amp dtype     {report.amp_dtype or 'none (full precision)'}",
            f"python        {report.python_version}",
            f"weights       {'can download' if report.weights_online else 'cannot download'}: {report.weights_note}",
        ]
    )


COMMANDS.register(
    "info",
    Command(
        name="info",
        help="what cvlab runs on: device, versions, whether weights can be downloaded",
        configure=lambda parser: None,
        run=lambda args: device_report(),
        render=_render,
    ),
)
