"""Every rich table lwbench prints, one module per export kind. Numbers are humanised here (report.human);
exports keep exact integers."""
