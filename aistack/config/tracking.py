"""Tracking, counting and pose: how boxes become tracks, crossings and postures."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from aistack.config.base import Strict

Anchor = Literal[
    "bottom_center", "center", "top_center", "center_left", "center_right",
    "bottom_left", "bottom_right", "top_left", "top_right", "keypoints",
]  # fmt: skip


class TrackerConfig(Strict):
    """The tracker and its thresholds. OC-SORT by default: on the accuracy dev set it tracked
    and counted best (experiments/tracking/README.md); thresholds suit NanoDet's low scores."""

    type: Literal["bytetrack", "ocsort", "sort"] = "ocsort"
    track_activation_threshold: float = Field(default=0.4, gt=0, lt=1)
    # OC-SORT drops every box under it. NanoDet's boxes under 0.45 are about nine tenths
    # false; from 0.45 real low-scoring people start (docs/models.md, *The tracker's
    # threshold*: 0.5 tracks PETS better but loses the golden side_by_side walker).
    high_conf_det_threshold: float = Field(default=0.45, gt=0, lt=1)
    minimum_iou_threshold: float = Field(default=0.1, gt=0, lt=1)
    minimum_consecutive_frames: int = Field(default=2, ge=1)
    lost_track_seconds: float = Field(default=1.5, gt=0)


class CountingConfig(Strict):
    """How anchors become crossings. See docs/counting.md for the rules."""

    anchor: Anchor = "bottom_center"
    min_distance: float = Field(
        default=2.0, ge=0, description="pixels an anchor must clear the line by to change side"
    )
    min_distance_fraction: float = Field(
        default=0.08, ge=0, le=1, description="same, as a fraction of the box height (larger wins)"
    )
    min_frames: int = Field(
        default=2, ge=1, description="consecutive frames on the new side before a crossing counts"
    )
    # Rules for imperfect tracks (docs/counting.md). Ground-truth tracks need none of them.
    motion_direction: bool = Field(
        default=True,
        description="count a side change only if the track's own motion, jumps "
        "taken out, carried it across (an identity swap or a jump never counts)",
    )
    max_speed: float = Field(
        default=3.0,
        gt=0,
        description="box heights per second a person can move; a faster "
        "step (beyond the band's jitter) is a jump between people, not motion",
    )
    vehicle_max_speed: float = Field(
        default=30.0,
        gt=0,
        description="the same for vehicles (car, bus, truck, motorcycle, bicycle), in their "
        "box heights per second: about 45 m/s for a car 1.5 m tall. Vehicles have no "
        "height_ratio bound: a car driving towards the camera grows fast",
    )
    height_ratio: float = Field(
        default=1.35,
        gt=1,
        description="largest ratio (the taller over the shorter) of one person's box heights "
        "between two sightings: in 99 of 100 cases they differ by less than 1.35x up to 1.5 s "
        "apart (PETS S2L1, experiments/counting/height_noise.json). A step that changes more "
        "is a jump to another person, and a new track that differs more is not a lost one",
    )
    motion_seconds: float = Field(
        default=0.5, gt=0, description="recent history a lost track's velocity is taken over"
    )
    duplicates: bool = Field(
        default=True, description="two tracks on one person count one crossing"
    )
    duplicate_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how far apart in time one person's two tracks' "
        "crossings of a line (same direction) may be",
    )
    duplicate_overlap: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="share of the smaller box inside the larger, in "
        "most frames both tracks were seen within duplicate_seconds, for them to be one person",
    )
    stitch: bool = Field(
        default=True,
        description="a track lost on one side and a new one where its motion "
        "predicts, on the other side, is one person crossing while hidden",
    )
    stitch_seconds: float = Field(
        default=1.5,
        gt=0,
        description="longest gap a hidden crossing is bridged over (the tracker keeps a lost "
        "track as long by default: tracker.lost_track_seconds)",
    )
    stitch_distance: float = Field(
        default=0.5,
        gt=0,
        description="box heights the new track may be from where the lost one's motion predicts",
    )


class PoseConfig(Strict):
    """Posture per track and fall events from keypoints; see docs/pose.md for the rules.

    Needs a detector that gives keypoints: `movenet`, or an ultralytics `-pose` model.
    """

    enabled: bool = False
    keypoint_threshold: float = Field(default=0.3, ge=0, le=1)
    upright_angle: float = Field(default=35.0, ge=0, lt=90)
    lying_angle: float = Field(default=60.0, gt=0, le=180)
    lying_aspect_ratio: float = Field(default=1.2, gt=0)
    sitting_thigh_ratio: float = Field(default=0.5, gt=0)
    sitting_height_ratio: float = Field(default=2.8, gt=0)
    smoothing_frames: int = Field(default=5, ge=1, le=100)
    fall_window_seconds: float = Field(default=1.5, gt=0)
    min_lying_seconds: float = Field(default=1.0, ge=0)
    hip_drop_fraction: float = Field(default=0.3, gt=0, le=1)
    posture_events: bool = False

    @model_validator(mode="after")
    def _angles_in_order(self) -> PoseConfig:
        if self.upright_angle >= self.lying_angle:
            raise ValueError("upright_angle must be smaller than lying_angle")
        return self
