# The account password: read on the beacon, masked in every text that leaves it, SigV4 for the REST fallback.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpHmac([byte[]]$Key, [string]$Text) {
    $hmac = New-Object System.Security.Cryptography.HMACSHA256(, $Key)
    try { return , $hmac.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Text)) } finally { $hmac.Dispose() }
}

# Signature Version 4 headers for one AWS JSON call (used when the AWS Tools cmdlets are not installed).
function New-BpSigV4Headers([string]$Method, [string]$HostName, [string]$Path, [string]$Body, [string]$Service, [string]$Region, [string]$Target, $Credentials, [datetime]$Now) {
    $amzDate = $Now.ToString('yyyyMMddTHHmmssZ', [Globalization.CultureInfo]::InvariantCulture)
    $date = $Now.ToString('yyyyMMdd', [Globalization.CultureInfo]::InvariantCulture)
    $headers = @{ 'host' = $HostName; 'x-amz-date' = $amzDate }
    if ($Target) { $headers['x-amz-target'] = $Target; $headers['content-type'] = 'application/x-amz-json-1.1' }
    if ($Credentials.token) { $headers['x-amz-security-token'] = $Credentials.token }
    [string[]]$names = @($headers.Keys)
    [Array]::Sort($names, [StringComparer]::Ordinal)
    $canonicalHeaders = ''
    foreach ($name in $names) { $canonicalHeaders += $name + ':' + $headers[$name] + "`n" }
    $signedHeaders = $names -join ';'
    $canonicalRequest = $Method + "`n" + $Path + "`n`n" + $canonicalHeaders + "`n" + $signedHeaders + "`n" + (Get-BpSha256Hex $Body)
    $scope = $date + '/' + $Region + '/' + $Service + '/aws4_request'
    $stringToSign = "AWS4-HMAC-SHA256`n" + $amzDate + "`n" + $scope + "`n" + (Get-BpSha256Hex $canonicalRequest)
    $key = Get-BpHmac ([System.Text.Encoding]::UTF8.GetBytes('AWS4' + $Credentials.secretKey)) $date
    foreach ($part in @($Region, $Service, 'aws4_request')) { $key = Get-BpHmac $key $part }
    $signature = ([System.BitConverter]::ToString((Get-BpHmac $key $stringToSign)) -replace '-', '').ToLowerInvariant()
    $result = [ordered]@{ Authorization = ('AWS4-HMAC-SHA256 Credential=' + $Credentials.accessKey + '/' + $scope + ', SignedHeaders=' + $signedHeaders + ', Signature=' + $signature) }
    foreach ($name in $names) { if ($name -ne 'host' -and $name -ne 'content-type') { $result[$name] = $headers[$name] } }
    return $result
}

# A secret holds the password itself or a JSON object with a "password" field.
function Select-BpPassword([string]$Value) {
    if ($Value -and $Value.TrimStart().StartsWith('{')) {
        $data = ConvertFrom-BpJson $Value
        foreach ($key in @('password', 'Password')) { if ($data.Contains($key)) { return [string]$data[$key] } }
        throw (New-BpError 'SECRET_FORMAT' 'the secret is a JSON object without a "password" field')
    }
    return $Value
}

function Get-BpSecretValue($State) {
    if ($State.account.kind -eq 'gmsa' -or -not $State.account.passwordRef) { return $null }
    try { $secret = Get-BpSecret $State.account.passwordRef }
    catch { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $State.account.passwordRef + ' could not be read with the instance role: ' + $_.Exception.Message)) }
    if (-not $secret) { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $State.account.passwordRef + ' is empty')) }
    return $secret
}

function Protect-BpText([string]$Text) {
    if (-not $script:BpPassword -or -not $Text) { return $Text }
    $escaped = (ConvertTo-Json -InputObject $script:BpPassword -Compress).Trim('"')
    return $Text.Replace($script:BpPassword, '********').Replace($escaped, '********')
}
