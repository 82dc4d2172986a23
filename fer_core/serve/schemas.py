"""The API's answers as pydantic models: FastAPI validates every answer against them and ``/docs``
shows their schema. Field for field what ``PhotoResult.to_dict`` writes (``predict``'s JSON), so
the API, the command line and the Predict page's JSON download say the same thing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Box(BaseModel):
    x: int
    y: int
    width: int
    height: int
    score: float | None = Field(None, description="the detector's confidence (none for haar)")


class Landmarks(BaseModel):
    right_eye: list[float] = Field(description="the subject's right eye (image left in a frontal face), x and y")
    left_eye: list[float]
    nose: list[float] | None = None
    mouth: list[float] | None = None


class Pose(BaseModel):
    yaw: float = Field(description="degrees, positive: turned to the image's right")
    pitch: float = Field(description="degrees, positive: up")
    roll: float = Field(description="degrees, positive: clockwise")


class Face(BaseModel):
    box: Box | None = Field(description="where the face is; null when the whole image was the face")
    top: str = Field(description="the class with the highest probability")
    probabilities: dict[str, float] = Field(description="the 7 classes: angry, disgust, fear, happy, sad, "
                                                        "surprise, neutral")
    landmarks: Landmarks | None = None
    pose: Pose | None = None


class PhotoAnswer(BaseModel):
    file: str
    width: int
    height: int
    whole_image: bool = Field(description="no detection: the image was classified as one face")
    whole_image_reason: str | None = Field(None, description="why: detector 'none', asked, or a face-crop-sized "
                                                             "photo with no face found")
    faces: list[Face]


class Health(BaseModel):
    status: str = Field(description="'ok' once the model and the detector are loaded and warmed up")
    model: str
    held: int = Field(description="predict requests this process holds now")
    queue: int = Field(description="the most it holds before answering 503")
    pid: int = Field(description="the worker process that answered (serve --workers N)")
    device: str = Field(description="where the model answers: cpu or gpu (serve --device)")


class ModelInfo(BaseModel):
    """The model's card (its keys vary with how it was made: bundle, export, calibrate), what runs
    it, and how this server answers with it."""

    model_config = ConfigDict(extra="allow")

    file: str
    runtime: str = Field(description="keras, onnxruntime or litert")
    answer: dict[str, Any] = Field(description="the AnswerSpec: tta, calibrated, operating_point, detector, margin")


class ErrorAnswer(BaseModel):
    error: str
