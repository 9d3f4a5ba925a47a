package scenarios

func CheckStack(string) error { return nil }
