"""Family benefits: programmes as dated rules, eligibility runs, three-level public disclosure (三级三公示), approval, payments and stops."""
