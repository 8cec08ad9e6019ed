#!/usr/bin/env python3
"""Fills a running songmay with a small, invented Hòa Bình: schools in four
districts, 240 students (no real child), a campaign, gifts, the open letter
and a news item, so the public site has something to show. Used by the
browser check (.ci/site/check.mjs) and for the README's screenshots.

    python3 .ci/site/demo_data.py http://127.0.0.1:8080 'the admin password'

Prints the follow reference of one gift (the last line)."""
import json
import sys
import urllib.request

BASE, PASSWORD = sys.argv[1], sys.argv[2]


def call(method, path, body=None, token=None, expect=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status not in expect:
        sys.exit(f"{method} {path} answered {status}: {text[:400]!r}")
    return json.loads(text) if text else None


admin = call("POST", "/api/v1/auth/token", {"username": "admin", "password": PASSWORD})["access_token"]

# Schools: a primary and a lower secondary school in four districts.
SCHOOLS = [
    ("TH-DABAC", "04831", "primary", "Trường Tiểu học Tu Lý"),
    ("THCS-DABAC", "150", "lower_secondary", "Trường THCS Đà Bắc"),
    ("TH-MAICHAU", "05200", "primary", "Trường Tiểu học Mai Châu"),
    ("THCS-CHINE", "05392", "lower_secondary", "Trường THCS Chi Nê"),
    ("THPT-TP", "148", "upper_secondary", "Trường THPT Thành phố Hòa Bình"),
    ("TH-VUBAN", "05266", "primary", "Trường Tiểu học Vụ Bản"),
]
call("POST", "/api/v1/sync/schools", [
    {"moet_code": code, "name": name, "admin_unit_code": unit, "level": level}
    for code, unit, level, name in SCHOOLS
], admin)

GRADES = {"primary": range(1, 6), "lower_secondary": range(6, 10), "upper_secondary": range(10, 13)}
students = []
for s, (code, _unit, level, _name) in enumerate(SCHOOLS):
    grades = list(GRADES[level])
    for i in range(40):
        ready = (i * 7 + s * 13) % 100 < 35 + s * 9
        students.append({
            "external_id": f"DEMO-{code}-{i:03}",
            "school_code": code,
            "grade": grades[i % len(grades)],
            "full_name": f"Học Sinh Minh Họa {s}{i:03}",
            "birth_date": "2012-05-01",
            "gender": "female" if i % 2 else "male",
            "household_status": "poor" if i % 3 == 0 else "other",
            "device_status": "adequate" if ready else "none",
            "connectivity_status": "mobile_ok" if ready or i % 4 else "none",
        })
report = call("POST", "/api/v1/sync/students", students, admin)
if report.get("rejected"):
    sys.exit(f"the roster sync refused rows: {json.dumps(report)[:400]}")
for unit in ["150", "156", "157", "159", "148"]:
    call("POST", "/api/v1/needs/generate", {"admin_unit_code": unit}, admin)

campaign = call("POST", "/api/v1/campaigns", {
    "name": "Thư ngỏ: Sóng và máy tính cho em", "starts_on": "2021-09-01",
    "targets": {"money_vnd": 5_000_000_000, "devices": {"tablet": 2000}},
    "priority_admin_units": ["150"]}, admin)["id"]
call("POST", f"/api/v1/campaigns/{campaign}/status", {"status": "open"}, admin)
donor = call("POST", "/api/v1/donors", {"kind": "organisation", "name": "Công ty Cổ phần Sông Đà",
                                        "inside_province": True}, admin)["id"]
money = call("POST", "/api/v1/receipts", {"campaign_id": campaign, "donor_id": donor, "receipt_type": "donation",
                                          "kind": "money", "amount_vnd": 250_000_000, "bank_reference": "FT21275DEMO",
                                          "received_on": "2021-10-02"}, admin)
call("POST", "/api/v1/receipts", {"campaign_id": campaign, "donor_id": donor, "receipt_type": "donation",
                                  "kind": "device", "device_type": "tablet", "quantity": 120,
                                  "received_on": "2021-10-05"}, admin)

for kind, title, body in [
    ("open_letter", "Thư ngỏ: Sóng và máy tính cho em",
     "Kính gửi các cơ quan, doanh nghiệp và nhà hảo tâm,\n\n**Trường có thể đóng cửa, việc học không thể dừng lại.** "
     "Sở Giáo dục và Đào tạo kêu gọi chung tay để mọi học sinh có máy và sóng để học trực tuyến."),
    ("news", "120 máy tính bảng đã về kho tỉnh",
     "Công ty Cổ phần Sông Đà trao tặng 120 máy tính bảng cho học sinh khó khăn."),
]:
    article = call("POST", "/api/v1/articles", {"kind": kind, "title": title, "summary": body.split("\n")[0][:150],
                                                "body": body, "campaign_id": campaign}, admin)
    for to in ["review", "published"]:
        call("POST", f"/api/v1/articles/{article['id']}/transitions", {"to": to}, admin)

print(money["public_ref"])
