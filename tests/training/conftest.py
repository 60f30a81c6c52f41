"""Training tests talk to a fake assessment service (httpx.MockTransport) unless they say
otherwise; `fake_assessment` decides which factories, assessments and findings exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.training.builders import FakeAssessment


@pytest.fixture
def fake_assessment() -> FakeAssessment:
    return FakeAssessment()


@pytest.fixture
async def training_app(training_app: FastAPI, fake_assessment: FakeAssessment) -> FastAPI:
    training_app.state.assessment_transport = httpx.MockTransport(fake_assessment.handle)
    return training_app


@pytest.fixture
async def client(training_client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield training_client
