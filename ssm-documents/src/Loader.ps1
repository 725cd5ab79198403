# Unpacks the module and the Windows layer ($BpPayload: gzip, then base64, of their compacted text) and
# defines their functions in this script's scope. Packed only to fit the 64 KB SSM limit with parameters;
# the readable text is ssm-documents/src in the repository, and the SHA-256 above identifies it.
$BpPacked = New-Object System.IO.MemoryStream(, [System.Convert]::FromBase64String($BpPayload))
$BpUnzip = New-Object System.IO.Compression.GZipStream($BpPacked, [System.IO.Compression.CompressionMode]::Decompress)
$BpReader = New-Object System.IO.StreamReader($BpUnzip, (New-Object System.Text.UTF8Encoding($false)))
$BpSource = $BpReader.ReadToEnd()
$BpReader.Dispose()
. ([scriptblock]::Create($BpSource))
Remove-Variable -Name BpPayload, BpPacked, BpUnzip, BpReader, BpSource
