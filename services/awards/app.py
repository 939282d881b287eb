"""Awards composition root: settings, database, broker, routes, handlers, metrics."""

from typing import Any

from fastapi import FastAPI
from pydantic import Field, field_validator, model_validator

from services.awards.awards import api as awards_api
from services.awards.awards.rules import (
    DEFAULT_AUTHORITIES,
    DEFAULT_AWARD_FORMS,
    Authority,
    AwardForm,
    Campaign,
    Catalogue,
)
from services.awards.awards.service import Awards
from services.awards.certifications import api as certifications_api
from services.awards.certifications.rules import DEFAULT_CRITERIA, Criterion
from services.awards.certifications.service import Certifications
from services.awards.common import AwardsMetrics
from services.awards.leaderboards import api as leaderboards_api
from services.awards.leaderboards.service import Leaderboards
from services.awards.models import AwardsTable
from services.awards.nominations import api as nominations_api
from services.awards.nominations.service import Nominations
from services.awards.replicas import api as replicas_api
from services.awards.replicas import handlers as replicas_handlers
from services.awards.replicas.models import (
    KnownArea,
    KnownMembership,
    KnownPerson,
    KnownTeam,
    TeamContribution,
    TrackedActivity,
    TrackedIncident,
)
from services.awards.replicas.service import ReadModels
from services.awards.reports import api as reports_api
from services.awards.reports.service import AwardsReports
from services.awards.scores import handlers as scores_handlers
from services.awards.scores.models import MemberCredit, ScoreEntry, ScoreMonth
from services.awards.scores.rules import DEFAULT_SCORE_RULES, Granularity, ScoreRule
from services.awards.scores.service import Scores
from services.awards.suggestions import api as suggestions_api
from services.awards.suggestions.rules import DEFAULT_THRESHOLDS, SuggestionThreshold
from services.awards.suggestions.service import Suggestions
from shared.events import (
    AwardGranted,
    AwardRevoked,
    CertificationDecided,
    IntegrationEvent,
    NominationCreated,
    NominationDecided,
)
from shared.idempotency import Idempotency
from shared.runtime import ServiceRuntime
from shared.scope import AreaScope
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "awards"
    port: int = 8003
    # The catalogue (JSON in ANTT_AWARD_FORMS, ANTT_AUTHORITIES, ANTT_AWARD_CAMPAIGNS).
    award_forms: dict[str, AwardForm] = Field(default_factory=lambda: dict(DEFAULT_AWARD_FORMS))
    # Issuing authorities, highest first: the district level ended in mid-2025 but old
    # records keep it.
    authorities: dict[str, Authority] = Field(default_factory=lambda: dict(DEFAULT_AUTHORITIES))
    # Before the catalogue: authority → level only. When set it replaces the authority
    # list (each keeps its default name and forms if it has one, else may give any form).
    authority_levels: dict[str, str] | None = None
    award_campaigns: dict[str, Campaign] = Field(default_factory=dict)
    # Emulation scores (ANTT_SCORE_RULES, ANTT_SUGGESTION_THRESHOLDS, ANTT_SCORE_PERIOD).
    score_rules: list[ScoreRule] = Field(default_factory=lambda: list(DEFAULT_SCORE_RULES))
    suggestion_thresholds: list[SuggestionThreshold] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS)
    )
    score_period: Granularity = "year"
    # Safe-area certification (ANTT_CERTIFICATION_CRITERIA).
    certification_criteria: list[Criterion] = Field(default_factory=lambda: list(DEFAULT_CRITERIA))

    @field_validator("award_forms", mode="before")
    @classmethod
    def _forms_from_codes(cls, value: Any) -> Any:
        # ANTT_AWARD_FORMS was once a list of codes: each code is its own name.
        if isinstance(value, list):
            return {code: {"name_vi": code, "name_en": code} for code in value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.authority_levels is not None:
            defaults = {**DEFAULT_AUTHORITIES, **self.authorities}
            self.authorities = {
                code: Authority(
                    name=defaults[code].name if code in defaults else code,
                    level=level,
                    forms=defaults[code].forms if code in defaults else list(self.award_forms),
                )
                for code, level in self.authority_levels.items()
            }
        if "suggestion_thresholds" not in self.model_fields_set:
            # The default thresholds may name authorities the former list lacks.
            self.suggestion_thresholds = [
                t
                for t in self.suggestion_thresholds
                if t.award_form in getattr(self.authorities.get(t.authority), "forms", [])
            ]
        for code, authority in self.authorities.items():
            unknown = [form for form in authority.forms if form not in self.award_forms]
            if unknown:
                raise ValueError(f"authority {code} gives unknown award forms {unknown}")
        for threshold in self.suggestion_thresholds:
            giver = self.authorities.get(threshold.authority)
            if giver is None or threshold.award_form not in giver.forms:
                raise ValueError(
                    f"suggestion threshold {threshold.points}: {threshold.authority} does not "
                    f"give {threshold.award_form}"
                )
        for name, codes in (
            ("score rule", [rule.code for rule in self.score_rules]),
            ("certification criterion", [c.code for c in self.certification_criteria]),
        ):
            if len(set(codes)) != len(codes):
                raise ValueError(f"{name} codes must be unique: {codes}")
        return self


PUBLISHES: list[type[IntegrationEvent]] = [
    NominationCreated,
    NominationDecided,
    AwardGranted,
    AwardRevoked,
    CertificationDecided,
]

# Derived only from registry's and reporting's events: `antt rebuild awards` empties them
# and reads those topics again. Kept: nominations, awards, rewarded achievements and
# certifications (officers' decisions), and suggestions — an officer accepts or dismisses
# them and the nomination made from one points back at it; the replay cannot make one twice
# (one per subject, period and threshold: uq_suggest_once, checked before adding).
READ_MODELS = [
    KnownArea,
    KnownTeam,
    KnownPerson,
    KnownMembership,
    TrackedIncident,
    TrackedActivity,
    TeamContribution,
    ScoreEntry,
    ScoreMonth,
    MemberCredit,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata=AwardsTable.metadata, publishes=PUBLISHES)
    catalogue = Catalogue(settings.award_forms, settings.authorities, settings.award_campaigns)
    scope = AreaScope(KnownArea)
    metrics = AwardsMetrics(runtime.registry)
    read_models = ReadModels(runtime.sessions, scope)
    nominations = Nominations(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        catalogue,
        metrics,
        scope,
        runtime.references,
    )
    awards = Awards(
        runtime.sessions, runtime.outbox, runtime.audit, catalogue, metrics, nominations, scope
    )
    suggestions = Suggestions(
        runtime.sessions,
        runtime.audit,
        catalogue,
        settings.suggestion_thresholds,
        settings.score_period,
        nominations,
        metrics,
        scope,
    )
    scores = Scores(
        runtime.sessions,
        settings.score_rules,
        settings.score_period,
        read_models,
        suggestions,
        scope,
    )
    certifications = Certifications(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        settings.certification_criteria,
        scope,
        runtime.references,
    )
    reports = AwardsReports(runtime.sessions, catalogue, scope)
    idempotency = Idempotency(
        AwardsTable.metadata, runtime.sessions, settings.idempotency_keep_hours
    )
    runtime.every(
        settings.idempotency_purge_interval_seconds, idempotency.purge, name="idempotency-purge"
    )
    replicas_handlers.register_handlers(runtime.consumer, read_models)
    scores_handlers.register_handlers(runtime.consumer, scores)
    runtime.declare_read_models(READ_MODELS)
    runtime.every(
        settings.metrics_refresh_seconds, suggestions.refresh_gauges, name="awards-gauges"
    )
    app = runtime.create_app(
        title="ANTT awards",
        description="Nominations and awards, emulation scores and suggestions, safe-area "
        "certification, and campaign reports.",
        routers=[
            nominations_api.create_router(nominations, runtime, idempotency),
            awards_api.create_router(awards, scores, suggestions, runtime, idempotency),
            reports_api.create_router(reports, runtime),
            replicas_api.create_router(read_models, runtime),
            leaderboards_api.create_router(Leaderboards(runtime.sessions, scope), runtime),
            suggestions_api.create_router(suggestions, runtime),
            certifications_api.create_router(certifications, runtime),
        ],
    )
    idempotency.install(app)
    app.state.scores = scores  # the consumed events' use cases, for tests that call them
    app.state.idempotency = idempotency
    return app
