DROP TABLE money_approvals;
