"""placeholder"""
def write_report(ds, checks, out_dir):
    return None
