"""The closed vocabularies of the training service, shared by its schemas and its seed."""

from enum import StrEnum


class Topic(StrEnum):
    SUPERVISORY_SKILLS = "supervisory_skills"
    WORKPLACE_COOPERATION = "workplace_cooperation"
    OSH = "osh"
    HR_MANAGEMENT = "hr_management"
    SEXUAL_HARASSMENT_PREVENTION = "sexual_harassment_prevention"
    OTHER = "other"


class Audience(StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    WORKER_REPRESENTATIVE = "worker_representative"
    COMMITTEE_MEMBER = "committee_member"


class Delivery(StrEnum):
    IN_FACTORY = "in_factory"
    MULTI_FACTORY = "multi_factory"
    ONLINE = "online"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class ParticipantRole(StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    WORKER_REPRESENTATIVE = "worker_representative"


class MemberRole(StrEnum):
    """Which side of a bipartite committee a member sits on."""

    WORKER_REPRESENTATIVE = "worker_representative"
    MANAGEMENT_REPRESENTATIVE = "management_representative"


class Selection(StrEnum):
    ELECTED = "elected"
    APPOINTED = "appointed"


class ItemStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class SeminarKind(StrEnum):
    INDUSTRY_SEMINAR = "industry_seminar"
    PAC_MEETING = "pac_meeting"
    STAKEHOLDER_EVENT = "stakeholder_event"
