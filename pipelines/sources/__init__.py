"""The sources: one module each, all implementing ``pipelines.sources.base.Source``."""

from pipelines.sources.aws import AwsSource
from pipelines.sources.azure import AzureSource
from pipelines.sources.base import Source
from pipelines.sources.gcp import GcpSource
from pipelines.sources.gpu_trackers import GpuTrackersSource
from pipelines.sources.lambda_cloud import LambdaSource
from pipelines.sources.litellm import LiteLLMSource
from pipelines.sources.openrouter import OpenRouterSource
from pipelines.sources.runpod import RunPodSource
from pipelines.sources.skypilot import SkyPilotSource
from pipelines.sources.vast import VastSource

SOURCES: dict[str, Source] = {
    source.id: source
    for source in (SkyPilotSource(), GpuTrackersSource(), LiteLLMSource(), OpenRouterSource(),
                   AwsSource(), AzureSource(), GcpSource(), LambdaSource(), RunPodSource(), VastSource())
}


def get_source(source_id: str) -> Source:
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {', '.join(SOURCES)}") from None
