#!/usr/bin/env python3
"""A first integration, as a new integrator writes it: only the Python client
that openapi-python-client generated from openapi/openapi.json, its models
and its enums. Every call must succeed with the generated types; a model
that cannot parse what the server sent, or an enum value the server refuses,
fails the run.

Usage: client_smoke.py BASE_URL ADMIN_PASSWORD  (the client package importable)
"""
import sys
import uuid
from datetime import date

from songmay_client import AuthenticatedClient, Client
from songmay_client.api.admin_units import list_admin_units
from songmay_client.api.auth import issue_token, me
from songmay_client.api.donations import (
    create_campaign,
    create_donor,
    create_pledge,
    create_receipt,
    set_campaign_status,
    balance,
)
from songmay_client.api.needs import bulk_transition, generate_needs, list_needs
from songmay_client.api.schools import get_school_by_code
from songmay_client.api.stats import coverage_stats
from songmay_client.api.sync import sync_schools, sync_students
from songmay_client.models import (
    Coverage,
    CreateCampaign,
    CreateDonor,
    CreatePledge,
    CreateReceipt,
    BulkTransition,
    DonationKind,
    DonorKind,
    GenerateRequest,
    GroupBy,
    Level,
    NeedStatus,
    Problem,
    ReceiptType,
    SchoolInput,
    SchoolLevel,
    SetCampaignStatus,
    CampaignStatus,
    StudentRecord,
    Gender,
    HouseholdStatus,
    DeviceStatus,
    ConnectivityStatus,
    TokenRequest,
)


def ok(answer, expected_type, what):
    """The parsed answer of a call, which must be of the documented success type."""
    parsed = answer.parsed
    if isinstance(parsed, Problem) or not isinstance(parsed, expected_type):
        raise SystemExit(
            f"FAIL {what}: HTTP {answer.status_code} parsed as {type(parsed).__name__}: "
            f"{answer.content[:400]!r}"
        )
    print(f"ok   {what}")
    return parsed


def main(base_url: str, password: str) -> None:
    run = uuid.uuid4().hex[:8]
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    token = ok(
        issue_token.sync_detailed(
            client=anonymous, body=TokenRequest(username="admin", password=password)
        ),
        issue_token.TokenResponse,
        "token for the admin",
    )
    client = AuthenticatedClient(
        base_url=base_url, token=token.access_token, raise_on_unexpected_status=True
    )
    who = ok(me.sync_detailed(client=client), me.Me, "who am I")
    assert who.role.value == "admin", who.role

    districts = ok(
        list_admin_units.sync_detailed(client=client, parent_code="17", limit=100),
        list_admin_units.AdminUnitPage,
        "the districts under 17",
    )
    assert len(districts.items) == 10, len(districts.items)
    assert all(unit.level == Level.DISTRICT for unit in districts.items)

    schools = [
        SchoolInput(moet_code=f"SMOKE-{run}-1", name="Trường Tiểu học Đà Bắc (smoke)",
                    admin_unit_code="04831", level=SchoolLevel.PRIMARY),
        SchoolInput(moet_code=f"SMOKE-{run}-2", name="Trường THCS Đà Bắc (smoke)",
                    admin_unit_code="150", level=SchoolLevel.LOWER_SECONDARY),
    ]
    report = ok(sync_schools.sync_detailed(client=client, body=schools),
                sync_schools.BatchReport, "sync two schools")
    assert report.inserted == 2 and report.rejected == 0, report

    def student(n: int, school: str, grade: int) -> StudentRecord:
        return StudentRecord(
            external_id=f"SMOKE-{run}-{n}", school_code=school, grade=grade,
            full_name=f"Học Sinh Thử {n}", birth_date=date(2014, 5, n + 1),
            gender=Gender.FEMALE, household_status=HouseholdStatus.POOR,
            device_status=DeviceStatus.NONE, connectivity_status=ConnectivityStatus.NONE,
        )

    students = [student(1, schools[0].moet_code, 3), student(2, schools[0].moet_code, 4),
                student(3, schools[1].moet_code, 7)]
    report = ok(sync_students.sync_detailed(client=client, body=students,
                                            idempotency_key=f"smoke-{run}"),
                sync_students.BatchReport, "sync three students")
    assert report.inserted == 3 and report.rejected == 0, report

    ids, created = [], 0
    for school in schools:
        found = ok(get_school_by_code.sync_detailed(code=school.moet_code, client=client),
                   get_school_by_code.School, f"the school {school.moet_code}")
        generated = ok(generate_needs.sync_detailed(client=client,
                                                    body=GenerateRequest(school_id=found.id)),
                       generate_needs.GenerateReport, f"generate the needs of {school.moet_code}")
        created += generated.created
        reported = ok(list_needs.sync_detailed(client=client, school_id=found.id,
                                               status=NeedStatus.REPORTED, limit=500),
                      list_needs.NeedPage, f"the reported needs of {school.moet_code}")
        ids += [need.id for need in reported.items]
    # Three students without a device or a connection: two needs each.
    assert created == 6, created
    assert len(ids) == created, (ids, created)
    for step in (NeedStatus.VERIFIED, NeedStatus.APPROVED):
        moved = ok(bulk_transition.sync_detailed(client=client,
                                                 body=BulkTransition(ids=ids, to=step)),
                   bulk_transition.BulkReport, f"move {len(ids)} needs to {step.value}")
        assert moved.failed == 0 and all(item.status == 200 for item in moved.items), moved

    donor = ok(create_donor.sync_detailed(client=client, body=CreateDonor(
        kind=DonorKind.ORGANISATION, name=f"Công ty Thử {run}", inside_province=True)),
        create_donor.Donor, "register a donor")
    campaign = ok(create_campaign.sync_detailed(client=client, body=CreateCampaign(
        name=f"Chiến dịch thử {run}", starts_on=date(2021, 9, 1))),
        create_campaign.Campaign, "create a campaign")
    ok(set_campaign_status.sync_detailed(id=campaign.id, client=client,
                                         body=SetCampaignStatus(status=CampaignStatus.OPEN)),
       set_campaign_status.Campaign, "open the campaign")
    pledge = ok(create_pledge.sync_detailed(client=client, body=CreatePledge(
        campaign_id=campaign.id, kind=DonationKind.MONEY, donor_id=donor.id,
        amount_vnd=20_000_000), idempotency_key=f"smoke-pledge-{run}"),
        create_pledge.Pledge, "pledge 20,000,000 đồng")
    receipt = ok(create_receipt.sync_detailed(client=client, body=CreateReceipt(
        campaign_id=campaign.id, pledge_id=pledge.id, receipt_type=ReceiptType.DONATION,
        kind=DonationKind.MONEY, amount_vnd=20_000_000, bank_reference=f"FT{run}",
        received_on=date(2021, 9, 15)), idempotency_key=f"smoke-receipt-{run}"),
        create_receipt.Receipt, "record the money's arrival")
    assert receipt.amount_vnd == 20_000_000
    money = ok(balance.sync_detailed(client=client, campaign_id=campaign.id),
               balance.Balance, "the campaign's balance")
    assert money.balance_vnd == 20_000_000, money

    coverage = ok(coverage_stats.sync_detailed(client=client, admin_unit="150",
                                               group_by=GroupBy.ADMIN_UNIT),
                  Coverage, "coverage statistics as JSON")
    assert coverage.total.students >= 3, coverage.total
    print("client smoke: every call succeeded with the generated types")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
